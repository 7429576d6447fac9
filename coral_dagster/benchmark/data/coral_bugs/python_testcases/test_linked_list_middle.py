import pytest
from node import Node

if pytest.use_correct:
    from correct_python_programs.linked_list_middle import linked_list_middle
else:
    from python_programs.linked_list_middle import linked_list_middle


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
    """Empty list: no middle."""
    assert linked_list_middle(None) is None


def test2():
    """One node is its own middle."""
    head = build_list([1])
    assert linked_list_middle(head) is head


def test3():
    """Odd length."""
    assert linked_list_middle(build_list([1, 2, 3])).value == 2


def test4():
    """Even length: the second middle."""
    assert linked_list_middle(build_list([1, 2, 3, 4])).value == 3


def test5():
    """Longer even list."""
    assert linked_list_middle(build_list([1, 2, 3, 4, 5, 6])).value == 4


def test6():
    """Longer odd list, and the list is left intact."""
    head = build_list([5, 6, 7, 8, 9])
    assert linked_list_middle(head).value == 7
    assert to_values(head) == [5, 6, 7, 8, 9]


def test7():
    """Two nodes: the second one."""
    assert linked_list_middle(build_list([10, 20])).value == 20
