"""The validation_scores stage: a genome's samples -> objectives and fitness (real sandbox)."""

from __future__ import annotations

import pytest

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.problems import load_problem_set
from coral_dagster.domain.config import SandboxConfig, Weights
from coral_dagster.pipeline.records import GeneratedCode, PatchOutput
from coral_dagster.pipeline.scoring import score_batch

NAME = "divisors_list"


def output(i: int, program: str | None) -> PatchOutput:
    return PatchOutput(f"g#{i}", NAME, "", program, "" if program else "no program", 1, 0, 0.0)


@pytest.fixture(scope="module")
def evaluator() -> Evaluator:
    return Evaluator(load_problem_set("bundled"), SandboxConfig(workers=2))


def test_bugfix_is_the_mean_or_the_best_sample(evaluator: Evaluator) -> None:
    problem = load_problem_set("bundled").problems[NAME]
    generated = GeneratedCode(
        genome_key="g",
        adapter_key="a",
        outputs=(output(0, problem.correct_source), output(1, None)),  # one repair, one nothing
        seconds=0.0,
    )
    (mean,) = score_batch([generated], Weights(), evaluator, "mean")
    (best,) = score_batch([generated], Weights(), evaluator, "best")
    assert mean.objectives["bugfix"] == pytest.approx(0.5)
    assert best.objectives["bugfix"] == 1.0
    assert best.objectives["syntax"] == mean.objectives["syntax"] == pytest.approx(0.5)
    assert best.fitness > mean.fitness
    assert (best.passed, best.total) == (mean.passed, mean.total)


def test_a_batch_splits_results_by_genome_and_problem(evaluator: Evaluator) -> None:
    problems = load_problem_set("bundled").problems
    other = "roman_to_int"

    def out(i: int, name: str, program: str | None) -> PatchOutput:
        return PatchOutput(f"#{i}", name, "", program, "" if program else "none", 1, 0, 0.0)

    fixer = GeneratedCode(  # repairs both problems with its second sample
        "fixer",
        "a",
        (
            out(0, NAME, problems[NAME].buggy_source),
            out(1, other, None),
            out(2, NAME, problems[NAME].correct_source),
            out(3, other, problems[other].correct_source),
        ),
        0.0,
    )
    nothing = GeneratedCode("nothing", "a", tuple(out(i, NAME, None) for i in range(4)), 0.0)
    scored = score_batch([fixer, nothing], Weights(), evaluator, "best")
    assert [s.genome_key for s in scored] == ["fixer", "nothing"]
    assert [len(s.results) for s in scored] == [4, 4]
    assert scored[0].objectives["bugfix"] == 1.0 and scored[1].objectives["bugfix"] == 0.0
    buggy_rate = scored[0].results[0].passed / scored[0].results[0].total
    assert 0.0 < buggy_rate < 1.0  # the buggy sample scored on its own
