import pytest
from node import Node

if pytest.use_correct:
    from correct_python_programs.course_schedule_order import course_schedule_order
else:
    from python_programs.course_schedule_order import course_schedule_order


def test1():
    """No nodes."""
    assert course_schedule_order([]) == []


def test2():
    """Independent nodes keep their input order."""
    assert course_schedule_order([Node("x"), Node("y"), Node("z")]) == ["x", "y", "z"]


def test3():
    """A chain given in reverse order."""
    c = Node("c")
    b = Node("b", outgoing_nodes=[c])
    a = Node("a", outgoing_nodes=[b])
    assert course_schedule_order([c, b, a]) == ["a", "b", "c"]


def test4():
    """Two prerequisites for one course."""
    algebra = Node("algebra")
    calculus = Node("calculus")
    analysis = Node("analysis")
    algebra.outgoing_nodes = [analysis]
    calculus.outgoing_nodes = [analysis]
    assert course_schedule_order([analysis, calculus, algebra]) == [
        "calculus",
        "algebra",
        "analysis",
    ]


def test5():
    """A two-node cycle has no order."""
    a = Node(1)
    b = Node(2, outgoing_nodes=[a])
    a.outgoing_nodes = [b]
    assert course_schedule_order([a, b]) is None


def test6():
    """A cycle behind a valid prefix still has no order."""
    start = Node("start")
    x = Node("x")
    y = Node("y", outgoing_nodes=[x])
    x.outgoing_nodes = [y]
    start.outgoing_nodes = [x]
    assert course_schedule_order([start, x, y]) is None


def test7():
    """A diamond: 1 before 2 and 3, both before 4."""
    n1, n2, n3, n4 = Node(1), Node(2), Node(3), Node(4)
    n1.outgoing_nodes = [n2, n3]
    n2.outgoing_nodes = [n4]
    n3.outgoing_nodes = [n4]
    assert course_schedule_order([n4, n3, n2, n1]) == [1, 2, 3, 4]
