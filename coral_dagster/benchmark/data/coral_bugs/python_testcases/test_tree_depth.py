import pytest
from node import Node

if pytest.use_correct:
    from correct_python_programs.tree_depth import tree_depth
else:
    from python_programs.tree_depth import tree_depth


def test1():
    """Empty tree."""
    assert tree_depth(None) == 0


def test2():
    """A single node."""
    assert tree_depth(Node(1)) == 1


def test3():
    """A chain of three."""
    assert tree_depth(Node(1, successors=[Node(2, successors=[Node(3)])])) == 3


def test4():
    """A balanced binary tree of depth 2."""
    assert tree_depth(Node("r", successors=[Node("a"), Node("b")])) == 2


def test5():
    """An unbalanced tree: the short branch must not hide the long one."""
    deep = Node("d", successors=[Node("e", successors=[Node("f")])])
    root = Node("r", successors=[Node("leaf"), deep])
    assert tree_depth(root) == 4


def test6():
    """A wide tree with one deeper child in the middle."""
    middle = Node(2, successors=[Node(5)])
    root = Node(0, successors=[Node(1), middle, Node(3), Node(4)])
    assert tree_depth(root) == 3
