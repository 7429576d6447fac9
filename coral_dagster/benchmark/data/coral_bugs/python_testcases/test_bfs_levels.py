import pytest
from node import Node

if pytest.use_correct:
    from correct_python_programs.bfs_levels import bfs_levels
else:
    from python_programs.bfs_levels import bfs_levels


def test1():
    """A node without successors."""
    assert bfs_levels(Node("a")) == [["a"]]


def test2():
    """A chain."""
    c = Node("c")
    b = Node("b", successors=[c])
    a = Node("a", successors=[b])
    assert bfs_levels(a) == [["a"], ["b"], ["c"]]


def test3():
    """A diamond: d is reached once, through b first."""
    d = Node("d")
    b = Node("b", successors=[d])
    c = Node("c", successors=[d])
    a = Node("a", successors=[b, c])
    assert bfs_levels(a) == [["a"], ["b", "c"], ["d"]]


def test4():
    """An edge back to the start adds nothing."""
    a = Node(1)
    b = Node(2, successors=[a])
    a.successors = [b]
    assert bfs_levels(a) == [[1], [2]]


def test5():
    """A leaf shared by nodes on two levels is listed on the nearer one."""
    leaf = Node("leaf")
    b = Node("b", successors=[leaf])
    a = Node("a", successors=[leaf, b])
    assert bfs_levels(a) == [["a"], ["leaf", "b"]]


def test6():
    """A wider graph with shared children on the second level."""
    e = Node(5)
    f = Node(6)
    c = Node(3, successors=[e, f])
    d = Node(4, successors=[f])
    b = Node(2, successors=[e])
    a = Node(1, successors=[b, c, d])
    assert bfs_levels(a) == [[1], [2, 3, 4], [5, 6]]
