import pytest
from node import Node

if pytest.use_correct:
    from correct_python_programs.merge_sorted_lists import merge_sorted_lists
else:
    from python_programs.merge_sorted_lists import merge_sorted_lists


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
    """Both empty."""
    assert merge_sorted_lists(None, None) is None


def test2():
    """Interleaved values."""
    merged = merge_sorted_lists(build_list([1, 3, 5]), build_list([2, 4, 6]))
    assert to_values(merged) == [1, 2, 3, 4, 5, 6]


def test3():
    """First list empty."""
    assert to_values(merge_sorted_lists(None, build_list([1, 2]))) == [1, 2]


def test4():
    """Second list empty."""
    assert to_values(merge_sorted_lists(build_list([1, 2, 3]), None)) == [1, 2, 3]


def test5():
    """Duplicates across the lists."""
    merged = merge_sorted_lists(build_list([1, 1]), build_list([1]))
    assert to_values(merged) == [1, 1, 1]


def test6():
    """All of one list before the other."""
    merged = merge_sorted_lists(build_list([1, 2]), build_list([3, 4, 5]))
    assert to_values(merged) == [1, 2, 3, 4, 5]


def test7():
    """Second list starts smaller and the first list outlasts it."""
    merged = merge_sorted_lists(build_list([5, 8]), build_list([1, 2, 3]))
    assert to_values(merged) == [1, 2, 3, 5, 8]


def test8():
    """The merge relinks the original nodes instead of copying them."""
    first, second = build_list([2, 9]), build_list([4])
    originals = [first, second, first.successor]
    merged = merge_sorted_lists(first, second)
    walked = []
    while merged is not None:
        walked.append(merged)
        merged = merged.successor
    assert walked == originals
