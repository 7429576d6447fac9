"""The evaluator on a QuixBugs-quirks dataset: verdicts, objective scores, batching, caching."""

from __future__ import annotations

import pytest

from coral_dagster.benchmark.evaluator import CandidateResult, Evaluator, TestVerdict
from coral_dagster.benchmark.objectives import code_lines
from coral_dagster.benchmark.problems import ProblemSet
from coral_dagster.domain.config import OBJECTIVES


def test_correct_programs_pass_everything_with_quirks_honoured(
    evaluator: Evaluator, quirks: ProblemSet
) -> None:
    """Generators (flatten), tuples vs lists (hanoi), approximate sqrt, wrapped one-argument
    cases (bitcount) and a pytest-style graph problem with module state (reachable)."""
    results = evaluator.evaluate_many([(n, p.correct_source) for n, p in quirks.problems.items()])
    for result in results:
        assert result.passed == result.total, (result.problem, [t.to_dict() for t in result.tests])
        assert result.objectives["bugfix"] == 1.0
        assert result.objectives["syntax"] == 1.0
        assert result.objectives["runtime"] == 1.0  # its own run is the runtime baseline
        assert not result.no_program


def test_buggy_programs_fail_at_least_one_test_with_an_explanation(
    evaluator: Evaluator, quirks: ProblemSet
) -> None:
    results = evaluator.evaluate_many([(n, p.buggy_source) for n, p in quirks.problems.items()])
    by_name = {r.problem: r for r in results}
    for result in results:
        assert result.passed < result.total, result.problem
    hanoi = by_name["hanoi"].tests
    assert [t.verdict for t in hanoi] == ["fail", "fail", "pass"]
    assert hanoi[0].detail == "expected [[1, 3]], got [[1, 2]]"
    reachable = by_name["reachable"].tests
    assert [t.verdict for t in reachable] == [
        "pass",
        "fail",
        "fail",
        "pass",
        "fail",
        "pass",
        "pass",
    ]
    assert reachable[1].error_type is None  # judged on the host from the observed value
    assert reachable[1].detail == "line 19: assert reachable(c, a) failed (reachable(c, a) = False)"
    assert by_name["reachable"].objectives["bugfix"] == pytest.approx(4 / 7)


def test_no_program_scores_zero_everywhere(evaluator: Evaluator) -> None:
    result = evaluator.evaluate("hanoi", None)
    assert result.no_program
    assert result.objectives == {o: 0.0 for o in OBJECTIVES}
    assert [t.verdict for t in result.tests] == ["error"] * 3
    assert {t.error_type for t in result.tests} == {"NoProgram"}


def test_syntax_error_scores_zero_everywhere_and_is_not_run(evaluator: Evaluator) -> None:
    result = evaluator.evaluate("hanoi", "def hanoi(height, start=1, end=3)\n    return []\n")
    assert not result.no_program
    assert result.objectives == {o: 0.0 for o in OBJECTIVES}
    assert {t.error_type for t in result.tests} == {"SyntaxError"}
    assert result.tests[0].detail.startswith("line 1:")
    outside = evaluator.evaluate("hanoi", "return 1\n")  # parses, but does not compile
    assert outside.objectives["syntax"] == 0.0 and outside.tests[0].error_type == "SyntaxError"


def test_missing_function_scores_syntax_zero_but_is_still_linted(evaluator: Evaluator) -> None:
    result = evaluator.evaluate("flatten", "def other(arr):\n    return arr\n")
    assert result.objectives["syntax"] == 0.0
    assert result.objectives["bugfix"] == 0.0
    assert result.objectives["style"] == 1.0 and result.objectives["security"] == 1.0
    assert {t.error_type for t in result.tests} == {"MissingFunction"}


def test_exceptions_are_errors_with_their_type_and_timeouts_are_timeouts(
    evaluator: Evaluator,
) -> None:
    program = (
        "def bitcount(n):\n"
        "    if n == 128:\n"
        "        raise ZeroDivisionError('boom')\n"
        "    if n == 3005:\n"
        "        while True:\n"
        "            pass\n"
        "    return bin(n).count('1')\n"
    )
    result = evaluator.evaluate("bitcount", program)
    assert [t.verdict for t in result.tests] == ["pass", "error", "timeout", "pass"]
    assert result.tests[1].error_type == "ZeroDivisionError" and result.tests[1].detail == "boom"
    assert result.tests[2].error_type is None
    assert result.objectives["bugfix"] == 0.5


def test_result_types_are_strict(evaluator: Evaluator) -> None:
    """A forged ``__eq__`` cannot pass; a set is not a list; a tuple is a list."""
    forged = (
        "class Anything(list):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "\n"
        "def hanoi(height, start=1, end=3):\n"
        "    return Anything()\n"
    )
    result = evaluator.evaluate("hanoi", forged)
    assert [t.verdict for t in result.tests] == ["fail"] * 3
    assert "not comparable" in result.tests[0].detail
    as_set = "def hanoi(height, start=1, end=3):\n    return set()\n"
    assert evaluator.evaluate("hanoi", as_set).tests[2].verdict == "fail"
    as_tuple = "def hanoi(height, start=1, end=3):\n    return ()\n"
    assert evaluator.evaluate("hanoi", as_tuple).tests[2].verdict == "pass"


def test_style_and_security_come_from_ruff_and_bandit(
    evaluator: Evaluator, quirks: ProblemSet
) -> None:
    clean = quirks.problems["hanoi"].correct_source
    sloppy = clean.replace("    steps = []\n", "    steps = []\n    unused = 1  \n")
    risky = clean.replace("    steps = []\n", "    steps = []\n    eval('1')  # nosec\n")
    results = evaluator.evaluate_many([("hanoi", clean), ("hanoi", sloppy), ("hanoi", risky)])
    clean_r, sloppy_r, risky_r = results
    assert clean_r.objectives["style"] == 1.0 and clean_r.objectives["security"] == 1.0
    # F841 (unused variable) + W291 (trailing whitespace) over 9 non-blank lines
    assert code_lines(sloppy) == 9
    assert sloppy_r.objectives["style"] == pytest.approx(1 / (1 + 10 * 2 / 9))
    assert sloppy_r.objectives["bugfix"] == 1.0
    # eval: bandit B307, MEDIUM (weight 3) despite "# nosec": 1 / (1 + 3 / 3)
    assert risky_r.objectives["security"] == pytest.approx(0.5)


def test_runtime_compares_with_the_correct_program(
    evaluator: Evaluator, quirks: ProblemSet
) -> None:
    """CPU time counts (a busy loop), waiting does not (a sleep)."""
    busy = quirks.problems["hanoi"].correct_source.replace(
        "    steps = []\n", "    steps = []\n    sum(range(1_500_000))\n"
    )
    sleepy = quirks.problems["hanoi"].correct_source.replace(
        "    steps = []\n", "    steps = []\n    import time\n    time.sleep(0.01)\n"
    )
    slow, waiting = evaluator.evaluate_many([("hanoi", busy), ("hanoi", sleepy)])
    assert slow.passed == 3
    assert 0.0 < slow.objectives["runtime"] < 0.5
    assert all(t.cpu_seconds >= 4e-3 for t in slow.tests)
    assert waiting.passed == 3 and waiting.objectives["runtime"] == 1.0
    assert all(t.seconds >= 0.01 > t.cpu_seconds for t in waiting.tests)


def test_evaluate_many_keeps_input_order_and_shares_duplicates(
    evaluator: Evaluator, quirks: ProblemSet
) -> None:
    items = [
        ("sqrt", quirks.problems["sqrt"].buggy_source),
        ("flatten", None),
        ("sqrt", quirks.problems["sqrt"].buggy_source),
        ("bitcount", quirks.problems["bitcount"].correct_source),
    ]
    results = evaluator.evaluate_many(items)
    assert [r.problem for r in results] == ["sqrt", "flatten", "sqrt", "bitcount"]
    assert results[0].to_dict() == results[2].to_dict()
    assert [t.verdict for t in results[0].tests] == ["pass", "fail", "pass"]
    with pytest.raises(KeyError, match="unknown problem 'nope'"):
        evaluator.evaluate_many([("sqrt", None), ("nope", "")])


def test_scores_including_runtime_are_reproducible(
    evaluator: Evaluator, quirks: ProblemSet
) -> None:
    items = [(n, p.buggy_source) for n, p in quirks.problems.items()]

    def strip(result: CandidateResult) -> dict:
        data = result.to_dict()
        for test in data["tests"]:
            test.pop("seconds")
            test.pop("cpu_seconds")
        return data

    first = [strip(r) for r in evaluator.evaluate_many(items)]
    second = [strip(r) for r in evaluator.evaluate_many(items)]
    assert first == second


def test_result_round_trips_through_dict(evaluator: Evaluator, quirks: ProblemSet) -> None:
    result = evaluator.evaluate("reachable", quirks.problems["reachable"].buggy_source)
    again = CandidateResult.from_dict(result.to_dict())
    assert again == result
    with pytest.raises(ValueError, match="verdict must be one of"):
        TestVerdict(0, "maybe", 0.0)
