import pytest
from node import Node

if pytest.use_correct:
    from correct_python_programs.shortest_hops import shortest_hops
else:
    from python_programs.shortest_hops import shortest_hops


def test1():
    """Start is the goal."""
    a = Node("a")
    assert shortest_hops(a, a) == 0


def test2():
    """A direct edge."""
    b = Node("b")
    a = Node("a", successors=[b])
    assert shortest_hops(a, b) == 1


def test3():
    """Unreachable goal."""
    a = Node("a", successors=[Node("b")])
    assert shortest_hops(a, Node("c")) == -1


def test4():
    """Two routes: the short one must win even though the long one is listed last."""
    goal = Node("goal")
    x = Node("x", successors=[goal])
    y = Node("y", successors=[goal])
    b = Node("b", successors=[y])
    a = Node("a", successors=[x, b])
    assert shortest_hops(a, goal) == 2


def test5():
    """A graph with a cycle."""
    a, b, c, d = Node(1), Node(2), Node(3), Node(4)
    a.successors = [b]
    b.successors = [c, a]
    c.successors = [a, d]
    assert shortest_hops(a, d) == 3


def test6():
    """Edges are directed: no way back."""
    b = Node("b")
    a = Node("a", successors=[b])
    assert shortest_hops(b, a) == -1


def test7():
    """A long detour listed last, a shortcut listed first."""
    goal = Node("goal")
    shortcut = Node("shortcut", successors=[goal])
    d3 = Node("d3", successors=[goal])
    d2 = Node("d2", successors=[d3])
    d1 = Node("d1", successors=[d2])
    start = Node("start", successors=[shortcut, d1])
    assert shortest_hops(start, goal) == 2
