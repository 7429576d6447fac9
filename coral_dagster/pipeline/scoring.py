"""The ``validation_scores`` stage: run a genome's patches in the sandbox and score them.

objectives = mean over validation problems of each objective (``benchmark.objectives``), a
problem's score being the mean over its samples, or for bugfix the best sample's with
``generation.bugfix: best`` (``domain.scoring.genome_objectives``);
fitness = sum_o weight_o * objective_o (``domain.scoring``). A genome whose runs failed after
every retry is recorded as failed: fitness 0 and every objective 0, with the reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.domain.config import OBJECTIVES, Weights
from coral_dagster.domain.scoring import fitness, genome_objectives
from coral_dagster.pipeline.records import GeneratedCode, Scores


def score_generated(
    generated: GeneratedCode,
    weights: Weights,
    evaluator: Evaluator,
    bugfix: Literal["mean", "best"],
) -> Scores:
    """Run every generated program's tests in the sandbox; objectives are means over problems."""
    return score_batch([generated], weights, evaluator, bugfix)[0]


def score_batch(
    batch: Sequence[GeneratedCode],
    weights: Weights,
    evaluator: Evaluator,
    bugfix: Literal["mean", "best"],
) -> list[Scores]:
    """Scores of several genomes; all their programs go through the evaluator in one call (its
    sandbox workers run them in parallel)."""
    items = [(o.problem_name, o.program) for g in batch for o in g.outputs]
    results = evaluator.evaluate_many(items)
    scores, start = [], 0
    for generated in batch:
        mine = results[start : start + len(generated.outputs)]
        start += len(generated.outputs)
        objectives = genome_objectives(
            [(o.problem_name, r.objectives) for o, r in zip(generated.outputs, mine, strict=True)],
            bugfix,
        )
        scores.append(
            Scores(
                genome_key=generated.genome_key,
                failed=False,
                reason="",
                objectives=objectives,
                fitness=fitness(objectives, weights),
                passed=sum(r.passed for r in mine),
                total=sum(r.total for r in mine),
                results=tuple(mine),
            )
        )
    return scores


def failed_scores(genome_key: str, reason: str) -> Scores:
    """Scores of a genome whose runs failed after every retry: fitness 0, reason recorded."""
    if not reason.strip():
        raise ValueError(f"failed_scores of {genome_key}: a failure needs a reason")
    return Scores(
        genome_key=genome_key,
        failed=True,
        reason=reason,
        objectives=dict.fromkeys(OBJECTIVES, 0.0),
        fitness=0.0,
        passed=0,
        total=0,
        results=(),
    )
