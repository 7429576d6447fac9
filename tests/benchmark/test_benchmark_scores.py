"""Score formulas, the batched linters and the JSON result comparison."""

from __future__ import annotations

import math

import pytest

from coral_dagster.benchmark.comparison import results_match
from coral_dagster.benchmark.objectives import (
    RUNTIME_FLOOR_SECONDS,
    bugfix_score,
    code_lines,
    runtime_score,
    security_score,
    security_weight,
    style_score,
)
from coral_dagster.benchmark.quality import bandit_weights, ruff_issue_counts


def test_formulas() -> None:
    assert bugfix_score(3, 4) == 0.75
    with pytest.raises(ValueError, match="at least one test"):
        bugfix_score(0, 0)
    assert code_lines("a = 1\n\n   \nb = 2\n") == 2 and code_lines("") == 1
    assert style_score(0, 7) == 1.0
    assert style_score(1, 10) == 0.5  # one issue per 10 lines
    assert style_score(2, 5) == pytest.approx(1 / 5)
    assert security_weight(["LOW", "MEDIUM", "HIGH", "high"]) == 1 + 3 + 9 + 9
    assert security_score(0) == 1.0 and security_score(3) == 0.5 and security_score(9) == 0.25


def test_runtime_score_uses_paired_passing_tests_and_a_noise_floor() -> None:
    assert runtime_score([], []) == 0.0
    assert runtime_score([0.2, 0.2], [0.1, 0.1]) == pytest.approx(0.5)
    assert runtime_score([0.05], [0.1]) == 1.0  # faster than the fix is capped at 1
    assert runtime_score([1e-6, 2e-6], [5e-6, 1e-7]) == 1.0  # both under the floor
    assert runtime_score([2 * RUNTIME_FLOOR_SECONDS], [RUNTIME_FLOOR_SECONDS / 10]) == 0.5
    with pytest.raises(ValueError, match="one correct-program time per passing test"):
        runtime_score([0.1], [])


def test_ruff_counts_per_program_in_one_batch_ignoring_noqa() -> None:
    programs = [
        "def f(x):\n    return x\n",
        "import os\n\n\ndef f(x):\n    unused = 1  # noqa\n    return x\n",
        "def f(x):\n    return x" + " " * 3 + "\n",
        "x = 1\n" + "y = '" + "a" * 120 + "'\n",
    ]
    # clean; F401 + F841 (noqa ignored); W291; E501 at the 100-column project limit
    assert ruff_issue_counts(programs) == [0, 2, 1, 1]
    assert ruff_issue_counts([]) == []


def test_bandit_weights_per_program_in_one_batch_ignoring_nosec() -> None:
    programs = [
        "def f(x):\n    return x\n",
        "def f(x):\n    assert x\n    return x\n",
        "def f(x):\n    return eval(x)  # nosec\n",
        "import subprocess\n\n\ndef f(x):\n    return subprocess.call(x, shell=True)\n",
    ]
    weights = bandit_weights(programs)
    assert weights[0] == 0
    assert weights[1] == 1  # B101 assert: LOW
    assert weights[2] == 3  # B307 eval: MEDIUM, "# nosec" ignored
    assert weights[3] >= 9  # B602 shell=True: HIGH (plus the LOW import warning)


def test_results_match_honours_the_quixbugs_quirks() -> None:
    assert results_match("hanoi", [2, 1, 3], [[1, 2], [1, 3]], [[1, 2], [1, 3]])
    assert not results_match("hanoi", [2, 1, 3], [[1, 2], [1, 3]], [[1, 3], [1, 2]])
    assert results_match("rpn_eval", [[3.0, 5.0, "+"]], 8.0, 8)
    assert not results_match("lis", [[]], 0, None)
    assert not results_match("f", [], math.nan, math.nan)
    assert results_match("sqrt", [2, 0.01], 1.4142135623730951, 1.4142156862745097)
    assert not results_match("sqrt", [2, 0.01], 1.4142135623730951, 1.43)
    assert not results_match("other", [2, 0.01], 1.4142135623730951, 1.4142156862745097)
