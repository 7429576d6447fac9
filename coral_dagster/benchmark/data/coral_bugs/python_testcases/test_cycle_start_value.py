import pytest
from node import Node

if pytest.use_correct:
    from correct_python_programs.cycle_start_value import cycle_start_value
else:
    from python_programs.cycle_start_value import cycle_start_value


def build_list(values, cycle_to=None):
    """Linked list of Nodes holding values; when cycle_to is an index, the last node links
    back to the node at that index. Returns the head (None when empty)."""
    nodes = [Node(value) for value in values]
    for node, following in zip(nodes, nodes[1:]):
        node.successor = following
    if cycle_to is not None:
        nodes[-1].successor = nodes[cycle_to]
    return nodes[0] if nodes else None


def test1():
    """Empty list: no cycle."""
    assert cycle_start_value(None) is None


def test2():
    """A single node without a cycle."""
    assert cycle_start_value(build_list([1])) is None


def test3():
    """Two nodes without a cycle."""
    assert cycle_start_value(build_list([1, 2])) is None


def test4():
    """A tail of two nodes leading into a cycle of three."""
    assert cycle_start_value(build_list([1, 2, 3, 4, 5], cycle_to=2)) == 3


def test5():
    """A node that links to itself."""
    assert cycle_start_value(build_list([1], cycle_to=0)) == 1


def test6():
    """The whole list is one cycle."""
    assert cycle_start_value(build_list([1, 2, 3], cycle_to=0)) == 1


def test7():
    """Five nodes without a cycle."""
    assert cycle_start_value(build_list([1, 2, 3, 4, 5])) is None


def test8():
    """Equal values: the answer is found by node identity, not by value."""
    head = build_list([7, 8, 7, 9], cycle_to=1)
    assert cycle_start_value(head) == 8
