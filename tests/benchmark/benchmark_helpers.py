"""Builders of small QuixBugs-layout datasets in temporary directories (our own programs).

``QUIRKS`` mimics the QuixBugs quirks the loader and evaluator must honour: a generator result
(``flatten``), a list of tuples compared with JSON lists (``hanoi``), an approximate result
with the epsilon as last argument (``sqrt``), one-argument cases written without the argument
list (``bitcount``: ``[127, 7]``), and a graph problem tested by a pytest-style file that
imports ``Node`` from a support module, keeps module-level state and uses parametrize
(``reachable``). A legacy ``*_test.py`` driver sits in ``python_programs/`` as in QuixBugs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from coral_dagster.domain.config import SandboxConfig


@dataclass
class Spec:
    """One problem: buggy and correct sources, and JSON lines or a pytest file."""

    buggy: str
    correct: str
    json_lines: list[str] | None = None
    pytest_source: str | None = None
    extra: dict[str, str] = field(default_factory=dict)


def write_dataset(
    root: Path, problems: dict[str, Spec], support: dict[str, str] | None = None
) -> Path:
    """Write ``problems`` in the QuixBugs layout under ``root`` and return ``root``."""
    for sub in ("python_programs", "correct_python_programs", "json_testcases", "python_testcases"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for name, spec in problems.items():
        (root / "python_programs" / f"{name}.py").write_text(spec.buggy)
        (root / "correct_python_programs" / f"{name}.py").write_text(spec.correct)
        if spec.json_lines is not None:
            (root / "json_testcases" / f"{name}.json").write_text("\n".join(spec.json_lines) + "\n")
        if spec.pytest_source is not None:
            (root / "python_testcases" / f"test_{name}.py").write_text(spec.pytest_source)
        for relative, text in spec.extra.items():
            (root / relative).write_text(text)
    for module, source in (support or {}).items():
        (root / "python_programs" / f"{module}.py").write_text(source)
    return root


def lines(*cases: tuple[object, object]) -> list[str]:
    return [json.dumps([args, expected]) for args, expected in cases]


NODE = """class Node:
    def __init__(self, value=None, successor=None, successors=None):
        self.value = value
        self.successor = successor
        self.successors = successors if successors is not None else []
"""

FLATTEN_CORRECT = """def flatten(arr):
    for x in arr:
        if isinstance(x, list):
            yield from flatten(x)
        else:
            yield x
"""
FLATTEN_BUGGY = """def flatten(arr):
    for x in arr:
        if isinstance(x, list):
            yield from flatten(x)
        else:
            yield [x]
"""

HANOI_CORRECT = """def hanoi(height, start=1, end=3):
    steps = []
    if height > 0:
        helper = ({1, 2, 3} - {start} - {end}).pop()
        steps.extend(hanoi(height - 1, start, helper))
        steps.append((start, end))
        steps.extend(hanoi(height - 1, helper, end))
    return steps
"""
HANOI_BUGGY = HANOI_CORRECT.replace("steps.append((start, end))", "steps.append((start, helper))")

SQRT_CORRECT = """def sqrt(x, epsilon):
    approx = x / 2
    while abs(x - approx * approx) > epsilon:
        approx = 0.5 * (approx + x / approx)
    return approx
"""
SQRT_BUGGY = """def sqrt(x, epsilon):
    approx = x / 2
    for _ in range(2):
        approx = 0.5 * (approx + x / approx)
    return approx
"""

BITCOUNT_CORRECT = """def bitcount(n):
    count = 0
    while n:
        n &= n - 1
        count += 1
    return count
"""
BITCOUNT_BUGGY = """def bitcount(n):
    count = 0
    while n > 1:
        n &= n - 1
        count += 1
    return count
"""

REACHABLE_CORRECT = """def reachable(start, goal):
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node is goal:
            return True
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.extend(node.successors)
    return False
"""
REACHABLE_BUGGY = """def reachable(start, goal):
    return goal in start.successors or start is goal
"""
REACHABLE_TESTS = """import pytest
from node import Node

if pytest.use_correct:
    from correct_python_programs.reachable import reachable
else:
    from python_programs.reachable import reachable

a = Node("a")
b = Node("b", None, [a])
c = Node("c", None, [b])


def test_direct():
    assert reachable(b, a)


def test_two_hops():
    assert reachable(c, a)


def test_cycle_set_by_earlier_state():
    a.successors = [c]
    assert reachable(a, b)


@pytest.mark.parametrize("depth,expected", [(1, True), (3, True), (0, True)])
def test_chain(depth, expected):
    nodes = [Node(0)]
    for i in range(depth):
        nodes.append(Node(i + 1, None, [nodes[-1]]))
    assert reachable(nodes[-1], nodes[0]) == expected


def test_unreachable():
    lone = Node("lone")
    assert not reachable(lone, a)
"""
LEGACY_DRIVER = """from node import Node
from reachable import reachable


def main():
    print(reachable(Node(1), Node(2)))
"""

QUIRKS: dict[str, Spec] = {
    "flatten": Spec(
        FLATTEN_BUGGY,
        FLATTEN_CORRECT,
        lines(([[[1, [], [2, 3]], [[4]], 5]], [1, 2, 3, 4, 5]), ([[]], []), ([[[[1]]]], [1])),
    ),
    "hanoi": Spec(
        HANOI_BUGGY,
        HANOI_CORRECT,
        lines(([1, 1, 3], [[1, 3]]), ([2, 1, 3], [[1, 2], [1, 3], [2, 3]]), ([0, 1, 3], [])),
    ),
    "sqrt": Spec(
        SQRT_BUGGY,
        SQRT_CORRECT,
        lines(([2, 0.01], 1.4142135623730951), ([1024, 0.01], 32.0), ([4, 0.5], 2.0)),
    ),
    "bitcount": Spec(
        BITCOUNT_BUGGY, BITCOUNT_CORRECT, ["[127, 7]", "[128, 1]", "", "[[3005], 9]", "[1, 1]"]
    ),
    "reachable": Spec(
        REACHABLE_BUGGY,
        REACHABLE_CORRECT,
        pytest_source=REACHABLE_TESTS,
        extra={"python_programs/reachable_test.py": LEGACY_DRIVER},
    ),
}


def quirks_dataset(root: Path) -> Path:
    return write_dataset(root, QUIRKS, support={"node": NODE})


def fast_config(**overrides: object) -> SandboxConfig:
    """A sandbox config with short timeouts, so hostile programs cost little test time."""
    values: dict[str, object] = {"timeout_seconds": 1.0, "startup_seconds": 5.0, "cpu_seconds": 2}
    values.update(overrides)
    return SandboxConfig(**values)
