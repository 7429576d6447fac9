"""Oracle fault localisation on QuixBugs-style (buggy, correct) pairs written here."""

from __future__ import annotations

import pytest

from coral_dagster.benchmark.localization import (
    Hunk,
    LocalizationError,
    code_lines,
    merge_hunks,
    oracle_hunks,
)
from coral_dagster.benchmark.patches import apply_hunk

# QuixBugs style: the buggy file ends with the problem's docstring; the correct file starts
# with a blank line, has comments, and keeps alternative solutions in a string at the end.
BUGGY_SEARCH = '''def find_first(arr, x):
    lo = 0
    hi = len(arr)

    while lo <= hi:
        mid = (lo + hi) // 2
        if x == arr[mid] and (mid == 0 or x != arr[mid - 1]):
            return mid
        elif x <= arr[mid]:
            hi = mid
        else:
            lo = mid + 1

    return -1


"""
Binary search for the first occurrence.

Input:
    arr: a sorted list
"""
'''

CORRECT_SEARCH = '''
def find_first(arr, x):
    lo = 0
    hi = len(arr)

    # the loop must stop when the range is empty
    while lo < hi:
        mid = (lo + hi) // 2
        if x == arr[mid] and (mid == 0 or x != arr[mid - 1]):
            return mid
        elif x <= arr[mid]:
            hi = mid
        else:
            lo = mid + 1   # skip mid

    return -1

"""
def find_first(arr, x):
    lo = 0
    hi = len(arr)
    while lo <= hi - 1:
        mid = (lo + hi) // 2
"""
# def find_first(arr, x):
#     return arr.index(x) if x in arr else -1
'''

BUGGY_RPN = """def shunt(tokens):
    out = []
    ops = []
    for token in tokens:
        if isinstance(token, int):
            out.append(token)
        else:
            while ops and ops[-1] >= token:
                out.append(ops.pop())

    while ops:
        out.append(ops.pop())
    return out
"""

CORRECT_RPN = """def shunt(tokens):
    out = []
    ops = []
    for token in tokens:
        if isinstance(token, int):
            out.append(token)
        else:
            while ops and ops[-1] >= token:
                out.append(ops.pop())
            ops.append(token)

    while ops:
        out.append(ops.pop())
    return out
"""


def test_code_lines_skip_comments_blanks_and_string_statements() -> None:
    lines = code_lines(CORRECT_SEARCH)
    texts = [c.text.strip() for c in lines]
    assert texts[0] == "def find_first(arr, x):"
    assert "lo = mid + 1" in texts  # comment removed
    assert not any("#" in t or '"""' in t or "lo <= hi - 1" in t for t in texts)
    assert lines[0].lineno == 2


def test_one_changed_line_amid_docstrings_comments_and_alternatives() -> None:
    hunks = oracle_hunks(BUGGY_SEARCH, CORRECT_SEARCH, "find_first")
    assert hunks == [Hunk(start=5, count=1, lines=("    while lo < hi:",), indent="    ")]
    fixed = apply_hunk(BUGGY_SEARCH, hunks[0])
    assert fixed.splitlines()[4] == "    while lo < hi:"
    assert [c.key for c in code_lines(fixed)] == [c.key for c in code_lines(CORRECT_SEARCH)]


def test_missing_line_is_an_insertion_at_the_fixs_own_indentation() -> None:
    hunks = oracle_hunks(BUGGY_RPN, CORRECT_RPN, "shunt")
    # inserted before line 10 (blank) ... the next code line is `while ops:` at depth 4, but
    # the missing line sits at depth 12, after the end of the inner while loop
    assert hunks == [
        Hunk(start=11, count=0, lines=("            ops.append(token)",), indent="            ")
    ]
    assert apply_hunk(BUGGY_RPN, hunks[0]).replace("\n\n", "\n") == CORRECT_RPN.replace(
        "\n\n", "\n"
    )


def test_respacing_is_not_a_change_but_reindentation_is() -> None:
    buggy = "def f(a, b):\n    c = a+b\n    if c:\n        c = 0\n    return c\n"
    spaced = "def f(a, b):\n    c = a + b\n    if c:\n        c = 0\n    return c\n"
    with pytest.raises(LocalizationError, match="same code lines"):
        oracle_hunks(buggy, spaced, "f")
    moved = "def f(a, b):\n    c = a+b\n    if c:\n        c = 0\n        return c\n"
    assert oracle_hunks(buggy, moved, "f") == [
        Hunk(start=5, count=1, lines=("        return c",), indent="        ")
    ]


def test_deleted_line_and_several_hunks_and_their_merge() -> None:
    buggy = (
        "def f(xs):\n"
        "    total = 1\n"
        "    print(xs)\n"
        "    for x in xs:\n"
        "        total += x\n"
        "    return total\n"
    )
    correct = "def f(xs):\n    total = 0\n    for x in xs:\n        total += x\n    return total\n"
    hunks = oracle_hunks(buggy, correct, "f")
    assert hunks == [Hunk(start=2, count=2, lines=("    total = 0",), indent="    ")]
    correct2 = (
        "def f(xs):\n"
        "    total = 0\n"
        "    print(xs)\n"
        "    for x in xs:\n"
        "        total += x\n"
        "    return -total\n"
    )
    two = oracle_hunks(buggy, correct2, "f")
    assert [(h.start, h.count) for h in two] == [(2, 1), (6, 1)]
    merged = merge_hunks(buggy, two)
    assert (merged.start, merged.count) == (2, 5)
    one_by_one = apply_hunk(apply_hunk(buggy, two[1]), two[0])
    assert apply_hunk(buggy, merged) == one_by_one == correct2


def test_programs_that_do_not_parse_are_named() -> None:
    with pytest.raises(LocalizationError, match="quux: buggy program does not parse"):
        oracle_hunks("def f(:\n", "def f():\n    pass\n", "quux")
