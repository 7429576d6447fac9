"""pytest-style tests judged on the host: the rewrite, the observation format and the verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from benchmark_helpers import NODE, Spec, fast_config, write_dataset

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.observations import ObservationError, SupportRef, judge, parse
from coral_dagster.benchmark.problems import load_problem_set
from coral_dagster.benchmark.pytest_rewrite import rewrite_tests

SECRET_TESTS = '''import pytest
from python_programs.f import f


def test_literal():
    """Output: 314159"""
    assert f(1) == 314159, "expected 314159"


def test_named_literal():
    expected = {"key": 271828}
    result = f(2)
    assert result == expected


@pytest.mark.parametrize("n,expected", [(3, 161803), (4, 141421)])
def test_param(n, expected):
    assert f(n) == expected


def test_special_literals():
    assert f(5) == float("inf")
    assert f(6) == pytest.approx(0.5, abs=1e-3)
    with pytest.raises(ValueError):
        f(-1)
'''


def test_literals_docstrings_and_expected_parameters_stay_on_the_host() -> None:
    rewritten = rewrite_tests(SECRET_TESTS, "test_f.py")
    for secret in ("314159", "271828", "161803", "141421", "0.5", "inf", "ValueError"):
        assert secret not in rewritten.source, secret
    assert "_coral_observe(0, f(1))" in rewritten.source
    assert "@pytest.mark.parametrize('n', [3, 4])" in rewritten.source
    assert rewritten.bindings == {"test_param[0]": {"expected": 161803}, "test_param[1]": {
        "expected": 141421
    }}  # fmt: skip
    assert [c.line for c in rewritten.checks] == [7, 13, 18, 22, 23, 24]
    assert rewritten.checks[5].expr == ("raises", ("ValueError",))


def _observations(*records: tuple[int, list]) -> list:
    return parse(json.dumps([[check, values] for check, values in records]))


NODE_TESTS = """from node import Node
from python_programs.g import g


def test_truth():
    assert g(1)


def test_not():
    assert not g(2)


def test_same_node():
    head = Node(1)
    assert g(head) is head


def test_pair():
    a, b = g(3), g(4)
    assert a == b
"""


def test_judging_follows_python_semantics_on_host_values() -> None:
    tests = rewrite_tests(NODE_TESTS, "test_g.py")
    ok = judge(tests, "test_truth", _observations((0, [1])), None)
    assert ok.passed  # truthy like the upstream assert: 1, [1] and objects pass
    assert judge(tests, "test_truth", _observations((0, [{"l": [1]}])), None).passed
    assert not judge(tests, "test_truth", _observations((0, [{"l": []}])), None).passed
    assert judge(tests, "test_not", _observations((1, [None])), None).passed
    same = _observations((2, [{"o": ["Node", 0]}, {"o": ["Node", 0]}]))
    other = _observations((2, [{"o": ["Node", 0]}, {"o": ["Node", 1]}]))
    assert judge(tests, "test_same_node", same, None).passed
    assert not judge(tests, "test_same_node", other, None).passed
    verdict = judge(
        tests, "test_truth", _observations((0, [{"x": "value of type Anything"}])), None
    )
    assert not verdict.passed and "not comparable: value of type Anything" in verdict.detail


def test_values_compared_with_each_other_must_match_the_reference() -> None:
    """Both sides observed: a candidate that reports an equal pair must still report the
    correct program's values, and run the same checks."""
    tests = rewrite_tests(NODE_TESTS, "test_g.py")
    reference = _observations((3, [{"t": [1, 2]}, {"t": [1, 2]}]))
    forged = _observations((3, [7, 7]))
    verdict = judge(tests, "test_pair", forged, reference)
    assert not verdict.passed and "the correct program's is (1, 2)" in verdict.detail
    assert judge(tests, "test_pair", reference, reference).passed
    assert not judge(tests, "test_pair", _observations(), reference).passed


@pytest.mark.parametrize(
    "bad",
    [
        '[[0, [{"q": 1}]]]',
        '[[0, [{"s": [{"l": [1]}]}]]]',  # an unhashable set element
        '[[0, [{"f": "one"}]]]',
        '{"not": "a list"}',
        "[[0, 1]]",
    ],
)
def test_malformed_observations_are_refused(bad: str) -> None:
    with pytest.raises(ObservationError):
        parse(bad)


def test_support_refs_compare_by_identity_only() -> None:
    assert SupportRef("Node", 1) == SupportRef("Node", 1)
    assert SupportRef("Node", 1) != SupportRef("Node", 2)
    assert SupportRef("Node", 1) != 1 and SupportRef("Node", 1) in [SupportRef("Node", 1)]


CORRECT_F = """def f(n):
    if n < 0:
        raise ValueError(n)
    return {1: 314159, 2: {"key": 271828}, 3: 161803, 4: 141421, 5: float("inf"),
            6: 0.5004}[n]
"""


@pytest.fixture(scope="module")
def secret_evaluator(tmp_path_factory: pytest.TempPathFactory) -> Evaluator:
    root = tmp_path_factory.mktemp("secret")
    specs = {"f": Spec(CORRECT_F, CORRECT_F, pytest_source=SECRET_TESTS)}
    return Evaluator(load_problem_set(write_dataset(root, specs, {"node": NODE})), fast_config())


def test_end_to_end_literals_parameters_raises_and_approx(secret_evaluator: Evaluator) -> None:
    correct = secret_evaluator.evaluate("f", CORRECT_F)
    assert [t.verdict for t in correct.tests] == ["pass"] * 5
    wrong = CORRECT_F.replace("161803", "161804").replace("raise ValueError(n)", "return 0")
    result = secret_evaluator.evaluate("f", wrong)
    assert [t.verdict for t in result.tests] == ["pass", "pass", "fail", "pass", "fail"]
    assert "line 24: assert with pytest.raises(ValueError)" not in result.tests[4].detail
    assert result.tests[4].detail.startswith("line 24: assert pytest.raises(ValueError) failed")


def test_the_sandbox_copy_of_the_tests_holds_no_expected_value(
    secret_evaluator: Evaluator, tmp_path: Path
) -> None:
    """The candidate reads every file of its work directory: no expected value is there."""
    snoop = (
        "import os\n\ndef f(n):\n    text = ''\n"
        "    for top, _, files in os.walk('/sandbox'):\n"
        "        for name in files:\n"
        "            text += open(os.path.join(top, name)).read()\n"
        "    wanted = [str(v + 1) for v in (314158, 271827, 161802, 141420)]\n"
        "    return [s for s in wanted if s in text]\n"
    )
    result = secret_evaluator.evaluate("f", snoop)
    assert "f(1) = []" in result.tests[0].detail  # the candidate's own source aside
