import pytest
from node import Node

if pytest.use_correct:
    from correct_python_programs.remove_value import remove_value
else:
    from python_programs.remove_value import remove_value


def build_list(values):
    """Singly linked list of Nodes holding values; returns its head (None when empty)."""
    head = None
    for value in reversed(values):
        head = Node(value, successor=head)
    return head


def to_values(head):
    """Values of the linked list starting at head, following successor links."""
    values = []
    while head is not None:
        values.append(head.value)
        head = head.successor
    return values


def test1():
    """Empty list."""
    assert remove_value(None, 3) is None


def test2():
    """Nothing to remove."""
    assert to_values(remove_value(build_list([1, 2, 3]), 9)) == [1, 2, 3]


def test3():
    """Matches in the middle, adjacent to each other."""
    assert to_values(remove_value(build_list([1, 2, 2, 3, 2]), 2)) == [1, 3]


def test4():
    """A single match at the head."""
    assert to_values(remove_value(build_list([4, 5, 6]), 4)) == [5, 6]


def test5():
    """Several matches at the head."""
    assert to_values(remove_value(build_list([7, 7, 7, 8]), 7)) == [8]


def test6():
    """Every node matches."""
    assert remove_value(build_list([1, 1, 1]), 1) is None


def test7():
    """A match at the tail."""
    assert to_values(remove_value(build_list([1, 2, 3]), 3)) == [1, 2]
