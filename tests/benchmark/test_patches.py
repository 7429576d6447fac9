"""Line patches: re-indentation, insertion, strict parsing of line and numbered answers."""

from __future__ import annotations

import pytest

from coral_dagster.benchmark.localization import Hunk
from coral_dagster.benchmark.patches import (
    PatchError,
    PatchResult,
    apply_lines,
    parse_line_answer,
    parse_numbered_answer,
    patch_program,
    reindent,
    try_patch,
)

SOURCE = (
    "def gcd(a, b):\n    if b == 0:\n        return a\n    else:\n        return gcd(a % b, b)\n"
)
LINE5 = Hunk(5, 1, ("        return gcd(b, a % b)",), "        ")


def test_reindent_moves_the_first_line_and_keeps_relative_indentation() -> None:
    assert reindent(["return x"], "        ") == ["        return x"]
    assert reindent(["  if x:", "      y = 1", "", "  z = 2"], "    ") == [
        "    if x:",
        "        y = 1",
        "",
        "    z = 2",
    ]
    assert reindent(["\tif x:", "\t\ty"], "  ") == ["  if x:", "          y"]  # tab = 8 columns
    with pytest.raises(PatchError, match="answer line 2 is indented less than its first line"):
        reindent(["    if x:", "  y"], "")
    with pytest.raises(PatchError, match="empty answer"):
        reindent(["", "  "], "    ")


def test_apply_replaces_inserts_and_keeps_the_final_newline() -> None:
    replaced = apply_lines(SOURCE, 5, 1, ["return gcd(b, a % b)"], "        ")
    assert replaced.splitlines()[4] == "        return gcd(b, a % b)"
    assert replaced.endswith("\n") and replaced.count("\n") == SOURCE.count("\n")
    inserted = apply_lines(SOURCE, 2, 0, ["assert a >= 0"], "    ")
    assert inserted.splitlines()[1:3] == ["    assert a >= 0", "    if b == 0:"]
    at_end = apply_lines(SOURCE, 6, 0, ["x = 1"], "")
    assert at_end.endswith("        return gcd(a % b, b)\nx = 1\n")
    two_for_one = apply_lines(SOURCE, 3, 1, ["if a:", "    return a"], "        ")
    assert two_for_one.splitlines()[2:4] == ["        if a:", "            return a"]
    assert apply_lines(SOURCE, 4, 2, [], "") == "def gcd(a, b):\n    if b == 0:\n        return a\n"


@pytest.mark.parametrize(("start", "count"), [(0, 1), (6, 1), (5, 2), (7, 0)])
def test_places_outside_the_program_are_refused(start: int, count: int) -> None:
    with pytest.raises(PatchError, match="outside the program"):
        apply_lines(SOURCE, start, count, ["x"], "")


@pytest.mark.parametrize(
    ("answer", "lines"),
    [
        ("return gcd(b, a % b)", ("return gcd(b, a % b)",)),
        ("        return gcd(b, a % b)\n", ("        return gcd(b, a % b)",)),
        ("```python\n    return gcd(b, a % b)\n```", ("    return gcd(b, a % b)",)),
        ("\n```\nreturn x\n```\n\n", ("return x",)),
        ("```py\nif a:\n    return a\n```", ("if a:", "    return a")),
        ("x = {\n    1: 'a',\n}", ("x = {", "    1: 'a',", "}")),
    ],
)
def test_line_answers_that_parse(answer: str, lines: tuple[str, ...]) -> None:
    assert parse_line_answer(answer) == lines


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("", "empty answer"),
        ("```python\n\n```", "empty answer"),
        ("```python\nreturn x\n", "unclosed code fence"),
        ("```\na\n```\n```\nb\n```", "more than one code block"),
        ("Here is the fix:\n```python\nreturn x\n```", "text outside the code block"),
        ("```javascript\nreturn x;\n```", "code block language 'javascript' is not python"),
        (">>  5 |         return gcd(b, a % b)", "answer line 1 copies the listing"),
        ("5 | return gcd(b, a % b)", "answer line 1 copies the listing"),
        ("x = 1 ```", "malformed code fence"),
    ],
)
def test_malformed_line_answers_carry_a_reason(answer: str, reason: str) -> None:
    with pytest.raises(PatchError, match=reason):
        parse_line_answer(answer)
    result = try_patch(SOURCE, answer, "line", LINE5)
    assert result.program is None and result.reason is not None and reason in result.reason


def test_patch_program_applies_a_line_answer_and_checks_it_parses() -> None:
    program = patch_program(SOURCE, "return gcd(b, a % b)", "line", LINE5)
    assert program.splitlines()[4] == "        return gcd(b, a % b)"
    assert try_patch(SOURCE, "return gcd(b, a % b", "line", LINE5) == PatchResult(
        None, "patched program does not parse (line 5: '(' was never closed)"
    )
    insertion = Hunk(3, 0, ("x",), "        ")
    assert patch_program(SOURCE, "print(b)", "line", insertion).splitlines()[2] == (
        "        print(b)"
    )


@pytest.mark.parametrize(
    ("answer", "parsed"),
    [
        ("5: return gcd(b, a % b)", (5, ("return gcd(b, a % b)",))),
        ("5:return x", (5, ("return x",))),
        ("```\n2: if b:\n3:     return a\n```", (2, ("if b:", "return a"))),
    ],
)
def test_numbered_answers_that_parse(answer: str, parsed: tuple) -> None:
    assert parse_numbered_answer(answer) == parsed


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ("return x", "answer line 1 does not start with 'N: '"),
        ("5:", "answer line 1 has no code after its line number"),
        ("5: a\n7: b", r"answer line numbers are not consecutive: \[5, 7\]"),
        ("0: x", "answer names line 0"),
        ("", "empty answer"),
    ],
)
def test_malformed_numbered_answers_carry_a_reason(answer: str, reason: str) -> None:
    with pytest.raises(PatchError, match=reason):
        parse_numbered_answer(answer)


def test_numbered_answer_replaces_each_line_at_its_own_indentation() -> None:
    program = patch_program(SOURCE, "5: return gcd(b, a % b)", "none")
    assert program.splitlines()[4] == "        return gcd(b, a % b)"
    both = patch_program(SOURCE, "4: if True:\n5: return b", "none")
    assert both.splitlines()[3:5] == ["    if True:", "        return b"]
    assert try_patch(SOURCE, "9: return a", "none").reason == (
        "place line 9 (+1) is outside the program (1..5)"
    )
