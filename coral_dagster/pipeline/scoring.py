"""The ``validation_scores`` stage: run a genome's patches in the sandbox and score them.

objectives = mean over validation problems of each objective (``benchmark.objectives``);
fitness = sum_o weight_o * objective_o (``domain.scoring``). A genome whose runs failed after
every retry is recorded as failed: fitness 0 and every objective 0, with the reason.
"""

from __future__ import annotations

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.domain.config import OBJECTIVES, Weights
from coral_dagster.domain.scoring import fitness, mean_objectives
from coral_dagster.pipeline.records import GeneratedCode, Scores


def score_generated(generated: GeneratedCode, weights: Weights, evaluator: Evaluator) -> Scores:
    """Run every generated program's tests in the sandbox; objectives are means over problems."""
    results = evaluator.evaluate_many([(o.problem_name, o.program) for o in generated.outputs])
    objectives = mean_objectives([r.objectives for r in results])
    return Scores(
        genome_key=generated.genome_key,
        failed=False,
        reason="",
        objectives=objectives,
        fitness=fitness(objectives, weights),
        passed=sum(r.passed for r in results),
        total=sum(r.total for r in results),
        results=tuple(results),
    )


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
