"""Acceptance on the bundled problem set: every fix passes all tests, every bug fails one."""

from __future__ import annotations

import pytest

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.problems import BUNDLED_DATASET, ProblemSet, load_problem_set
from coral_dagster.domain.config import SandboxConfig

pytestmark = pytest.mark.skipif(
    not (BUNDLED_DATASET / "python_programs").is_dir(), reason="bundled data not present"
)


@pytest.fixture(scope="module")
def bundled() -> ProblemSet:
    return load_problem_set("bundled")


@pytest.fixture(scope="module")
def bundled_evaluator(bundled: ProblemSet) -> Evaluator:
    return Evaluator(bundled, SandboxConfig())


def test_bundled_set_has_json_and_pytest_problems(bundled: ProblemSet) -> None:
    kinds = {p.kind for p in bundled.problems.values()}
    assert len(bundled.problems) >= 30 and kinds == {"json", "pytest"}
    assert load_problem_set(BUNDLED_DATASET).fingerprint() == bundled.fingerprint()


def test_every_correct_program_passes_all_its_tests(
    bundled: ProblemSet, bundled_evaluator: Evaluator
) -> None:
    results = bundled_evaluator.evaluate_many(
        [(n, p.correct_source) for n, p in bundled.problems.items()]
    )
    failing = {
        r.problem: [t.to_dict() for t in r.tests if t.verdict != "pass"]
        for r in results
        if r.passed != r.total
    }
    assert not failing
    assert all(r.objectives["bugfix"] == r.objectives["syntax"] == 1.0 for r in results)


def test_every_buggy_program_fails_at_least_one_test(
    bundled: ProblemSet, bundled_evaluator: Evaluator
) -> None:
    results = bundled_evaluator.evaluate_many(
        [(n, p.buggy_source) for n, p in bundled.problems.items()]
    )
    assert [r.problem for r in results if r.passed == r.total] == []
    assert all(r.objectives["syntax"] == 1.0 for r in results)
