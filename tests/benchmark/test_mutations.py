"""Mutation operators: each one's exact edits on small lines, validity, determinism."""

from __future__ import annotations

import ast
import hashlib
import json
import os
import subprocess
import sys

import pytest

from coral_dagster.benchmark.mutations import (
    EDIT_OPERATORS,
    OPERATORS,
    MutationError,
    insertion_edits,
    line_edits,
    program_mutants,
    sample_mutants,
)


def texts(source: str, lineno: int, operator: str) -> list[str]:
    edits = line_edits(source, lineno, operators=(operator,))
    assert all(e.operator == operator for e in edits)
    return [e.text.strip() for e in edits]


# -- one operator at a time: the exact edits, in order ------------------------------------------


@pytest.mark.parametrize(
    ("source", "lineno", "operator", "expected"),
    [
        (
            "def f(a, b):\n    if a < b:\n        return a\n",
            2,
            "comparison",
            ["if a <= b:", "if a > b:", "if a >= b:", "if a == b:", "if a != b:"],
        ),
        (
            "def f(a, x):\n    return a is not x or a in x\n",
            2,
            "comparison",
            ["return a is x or a in x", "return a is not x or a not in x"],
        ),
        (
            "def f(xs, i):\n    return xs[i]\n",
            2,
            "off_by_one",
            ["return xs[i] + 1", "return xs[i] - 1", "return xs[i + 1]", "return xs[i - 1]"],
        ),
        (
            "def f(r):\n    for c in range(0, r):\n        print(c)\n",
            2,
            "off_by_one",
            [
                "for c in range(1, r):",
                "for c in range(-1, r):",
                "for c in range(0, r + 1):",
                "for c in range(0, r - 1):",
            ],
        ),
        (
            "def f(n):\n    return g(n + 1)\n",
            2,
            "off_by_one",
            ["return g(n + 1) + 1", "return g(n + 1) - 1", "return g(n)", "return g(n + 2)"],
        ),
        (
            "def f(a, x):\n    return a * x\n",
            2,
            "off_by_one",
            [
                "return a * x + 1",
                "return a * x - 1",
                "return (a + 1) * x",
                "return (a - 1) * x",
                "return a * (x + 1)",
                "return a * (x - 1)",
            ],
        ),
        (
            "def f(n):\n    while n:\n        n ^= n - 1\n",
            3,
            "arithmetic",
            [
                "n &= n - 1",
                "n |= n - 1",
                "n <<= n - 1",
                "n >>= n - 1",
                "n ^= n + 1",
                "n ^= n * 1",
                "n ^= n / 1",
                "n ^= n // 1",
                "n ^= n % 1",
                "n ^= n ** 1",
            ],
        ),
        ("def f(a, b):\n    return a and b\n", 2, "arithmetic", ["return a or b"]),
        (
            "def gcd(a, b):\n    return gcd(a % b, b)\n",
            2,
            "swap",
            ["return gcd(b, a % b)", "return gcd(b % a, b)"],
        ),
        ("def f(d, i, j):\n    d[i, j] = 0\n", 2, "swap", ["d[j, i] = 0"]),
        ("def f(p, i, j):\n    return p[j] < p[i]\n", 2, "swap", ["return p[i] < p[j]"]),
        ("def f(n):\n    return []\n", 2, "literal", ["return [[]]", "return None", "return [n]"]),
        ("def f(n):\n    x = None\n    return x\n", 2, "literal", ["x = 0", "x = []"]),
        ("def f():\n    return True\n", 2, "literal", ["return False"]),
        ("def f(x):\n    return x is None\n", 2, "literal", []),
        (
            "def f(xs):\n    return any(x > 0 for x in xs)\n",
            2,
            "builtin",
            ["return all(x > 0 for x in xs)"],
        ),
        ("def f(xs):\n    return min(xs)\n", 2, "builtin", ["return max(xs)"]),
        (
            "def f(n):\n    a = n.incoming\n    return n.outgoing\n",
            3,
            "attribute",
            ["return n.incoming"],
        ),
        (
            "def f(a, b):\n    while a and b:\n        a = b\n",
            2,
            "negation",
            ["while not (a and b):", "while not a and b:", "while a and not b:"],
        ),
        ("def f(a):\n    if not a:\n        return a\n", 2, "negation", ["if a:"]),
        ("def f(a, b):\n    if a or b:\n        return a\n", 2, "drop_operand", ["if a:", "if b:"]),
        ("def f(x):\n    yield flatten(x)\n", 2, "drop_operand", ["yield x"]),
        (
            "def f(s, t):\n    return 1 + f(s, t)\n",
            2,
            "drop_operand",
            ["return 1", "return f(s, t)", "return 1 + s", "return 1 + t"],
        ),
        ("def f(a, b):\n    c = a\n    return c\n", 3, "variable", ["return a", "return b"]),
        (
            "def f(q):\n    while True:\n        q.pop()\n",
            2,
            "variable",
            ["while q:"],
        ),
        (
            "def f(s, e, w):\n    for u, v in e:\n        e[u, v] = min(w[u], w[v])\n",
            3,
            "expression",
            [
                "w[u] = min(w[u], w[v])",
                "w[v] = min(w[u], w[v])",
                "e[u, v] = min(e[u, v], w[v])",
                "e[u, v] = min(w[v], w[v])",
                "e[u, v] = min(w[u], e[u, v])",
                "e[u, v] = min(w[u], w[u])",
            ],
        ),
    ],
)
def test_operator_edits_are_exactly_these(
    source: str, lineno: int, operator: str, expected: list[str]
) -> None:
    assert texts(source, lineno, operator) == expected


def test_variables_in_scope_are_the_functions_own_and_comprehension_targets_of_the_line() -> None:
    source = (
        "LIMIT = 3\n"
        "def f(a, b):\n"
        "    c = [y for y in a]\n"
        "    return [x for x in b]\n"
        "def g(z):\n"
        "    return z\n"
    )
    # y (another line's comprehension) and z (another function) are not in scope
    assert texts(source, 4, "variable") == [
        "return [LIMIT for x in b]",
        "return [a for x in b]",
        "return [b for x in b]",
        "return [c for x in b]",
        "return [x for x in LIMIT]",
        "return [x for x in a]",
        "return [x for x in c]",
        "return [x for x in x]",
    ]


def test_edits_keep_the_rest_of_the_line_and_its_comment() -> None:
    source = "def f(a, b):\n    if a<b :  # compare\n        return a\n"
    edits = [e.text for e in line_edits(source, 2)]
    assert "    if a <= b :  # compare" in edits  # the edited node is unparsed, the rest kept
    assert "    if a + 1<b :  # compare" in edits


def test_non_ascii_text_before_the_site_keeps_byte_offsets_right() -> None:
    source = "def f(a):\n    return 'é' if a < 1 else 'ü'\n"
    edits = [e.text for e in line_edits(source, 2, operators=("comparison",))]
    assert edits[0] == "    return 'é' if a <= 1 else 'ü'"


def test_nodes_spanning_several_lines_are_not_edited_but_their_one_line_parts_are() -> None:
    source = (
        "def f(d, i, j, k):\n"
        "    d[i, j] = min(\n"
        "        d[i, j],\n"
        "        d[i, k] + d[j, k]\n"
        "    )\n"
    )
    edits = line_edits(source, 4)
    assert "        d[i, k] + d[k, j]" in [e.text for e in edits]
    for edit in edits:  # every edit of the continuation line keeps the statement parsing
        ast.parse(source.replace("        d[i, k] + d[j, k]", edit.text))
    assert line_edits(source, 5) == []  # ')' alone: no node starts and ends there


def test_every_edit_parses_differs_and_changes_only_its_line() -> None:
    source = (
        "def kth(arr, k):\n"
        "    pivot = arr[0]\n"
        "    below = [x for x in arr if x < pivot]\n"
        "    num_lessoreq = len(arr) - len([x for x in arr if x > pivot])\n"
        "    if k < len(below):\n"
        "        return kth(below, k)\n"
        "    elif k >= num_lessoreq:\n"
        "        return kth(arr, k - num_lessoreq)\n"
        "    return pivot\n"
    )
    lines = source.splitlines()
    for lineno in range(1, len(lines) + 1):
        edits = line_edits(source, lineno)
        assert len({e.text for e in edits}) == len(edits)
        for edit in edits:
            assert edit.text != lines[lineno - 1]
            program = "\n".join([*lines[: lineno - 1], edit.text, *lines[lineno:]])
            assert ast.dump(ast.parse(program)) != ast.dump(ast.parse(source))
            assert edit.operator in EDIT_OPERATORS


def test_max_candidates_keeps_the_first_ones() -> None:
    source = "def f(a, b, c):\n    return a + b * c\n"
    everything = line_edits(source, 2)
    assert line_edits(source, 2, max_candidates=5) == everything[:5]


def test_bad_input_is_named() -> None:
    with pytest.raises(MutationError, match="line 9 is outside the program"):
        line_edits("x = 1\n", 9)
    with pytest.raises(MutationError, match="does not parse"):
        line_edits("def f(:\n", 1)
    with pytest.raises(MutationError, match="unknown mutation operators"):
        line_edits("x = 1\n", 1, operators=("delete",))


# -- insertion candidates -----------------------------------------------------------------------


def test_insertion_candidates_copy_and_edit_the_functions_simple_statements() -> None:
    source = (
        "def wrap(text, cols):\n"
        "    lines = []\n"
        "    while len(text) > cols:\n"
        "        line, text = text[:cols], text[cols:]\n"
        "        lines.append(line)\n"
        "    return lines\n"
    )
    edits = insertion_edits(source, 6, "    ", operators=("variable",))
    found = [(e.operator, e.text) for e in edits]
    assert found[0] == ("copy", "    lines = []")
    assert ("copy", "    lines.append(line)") in found
    assert ("copy+variable", "    lines.append(text)") in found  # the missing line of `wrap`
    assert all(e.text.startswith("    ") and not e.text[4].isspace() for e in edits)


def test_insertion_candidates_are_kept_only_where_they_parse() -> None:
    source = "def f(a):\n    b = a\n    return b\n"
    for edit in insertion_edits(source, 3, "    "):
        ast.parse("def f(a):\n    b = a\n" + edit.text + "\n    return b\n")
    with pytest.raises(MutationError, match="insertion line 9"):
        insertion_edits(source, 9, "    ")


# -- the injector -------------------------------------------------------------------------------

PROGRAM = (
    "def merge(a, b):\n"
    "    out = []\n"
    "    i = j = 0\n"
    "    while i < len(a) and j < len(b):\n"
    "        if a[i] <= b[j]:\n"
    "            out.append(a[i])\n"
    "            i += 1\n"
    "        else:\n"
    "            out.append(b[j])\n"
    "            j += 1\n"
    "    return out + a[i:] + b[j:]\n"
)


def test_deletion_removes_one_statement_of_a_block_that_keeps_another() -> None:
    source = "def f(a):\n    b = a\n    c = b\n    return c\n"
    mutants = program_mutants(source, operators=("delete",))
    assert [(m.lineno, m.original, m.mutated) for m in mutants] == [
        (2, "    b = a", None),
        (3, "    c = b", None),
    ]
    assert mutants[0].source == "def f(a):\n    c = b\n    return c\n"
    only = "def f(a):\n    if a:\n        a = 1\n    return a\n"
    assert program_mutants(only, operators=("delete",)) == []  # `a = 1` is its block's only one


def test_program_mutants_cover_every_operator_and_are_valid() -> None:
    mutants = program_mutants(PROGRAM)
    assert {m.operator for m in mutants} >= set(OPERATORS) - {"builtin", "attribute"}
    lines = PROGRAM.splitlines()
    assert len({m.source for m in mutants}) == len(mutants)
    for m in mutants:
        ast.parse(m.source)
        assert m.original == lines[m.lineno - 1]
        expected = [*lines[: m.lineno - 1], *([m.mutated] if m.mutated else []), *lines[m.lineno :]]
        assert m.source == "\n".join(expected) + "\n"
    assert [m.lineno for m in mutants] == sorted(m.lineno for m in mutants)


def test_sampling_is_seeded_and_drawn_from_the_full_list() -> None:
    everything = program_mutants(PROGRAM)
    first = sample_mutants(PROGRAM, 10, seed=7)
    assert first == sample_mutants(PROGRAM, 10, seed=7)
    assert first != sample_mutants(PROGRAM, 10, seed=8)
    assert len(first) == 10 and all(m in everything for m in first)
    assert sample_mutants(PROGRAM, 10_000, seed=7) == everything


DIGEST = """
import hashlib, json, sys
from coral_dagster.benchmark.mutations import program_mutants, line_edits
src = json.loads(sys.argv[1])
data = [[m.operator, m.lineno, m.mutated] for m in program_mutants(src)]
data += [[e.operator, e.text] for e in line_edits(src, 11)]
print(hashlib.sha256(json.dumps(data).encode()).hexdigest())
"""


def test_mutants_are_identical_across_processes_and_hash_seeds() -> None:
    digests = set()
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, "-c", DIGEST, json.dumps(PROGRAM)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        digests.add(result.stdout.strip())
    data = [[m.operator, m.lineno, m.mutated] for m in program_mutants(PROGRAM)]
    data += [[e.operator, e.text] for e in line_edits(PROGRAM, 11)]
    assert digests == {hashlib.sha256(json.dumps(data).encode()).hexdigest()}
