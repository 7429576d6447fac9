"""Fitness threshold gate that tightens per generation.

    threshold(g) = min(gate.max, gate.initial + gate.step * g)

Parents of generation g with fitness >= threshold(g) may breed. If none reaches it, the
gate would empty the parent pool; instead the single best parent (highest fitness, lowest
index on ties) is kept, so evolution continues from the best genome found so far (it is
then the only parent: children come from mutating it and crossing it with itself).
"""

from __future__ import annotations

from collections.abc import Sequence

from coral_dagster.domain.config import GateConfig


def gate_threshold(gate: GateConfig, generation: int) -> float:
    """min(max, initial + step * generation)."""
    if generation < 0:
        raise ValueError(f"generation must be >= 0, got {generation}")
    return min(gate.max, gate.initial + gate.step * generation)


def gate_survivors(fitnesses: Sequence[float], threshold: float) -> list[int]:
    """Indices with fitness >= threshold; the single best index when none passes."""
    if len(fitnesses) == 0:
        raise ValueError("gate_survivors: no fitness values (empty parent population)")
    passed = [i for i, f in enumerate(fitnesses) if f >= threshold]
    if passed:
        return passed
    best = max(range(len(fitnesses)), key=lambda i: (fitnesses[i], -i))
    return [best]
