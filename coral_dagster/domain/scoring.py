"""Scoring arithmetic: validated objective vectors, weighted fitness and per-problem means.

Objectives are the five scores of ``config.OBJECTIVES`` (bugfix, syntax, style, security,
runtime), each in [0, 1], higher is better.

    fitness(s, w) = sum_o w_o * s_o         (weights are non-negative and sum to 1)
    mean_o        = (1 / P) * sum_p s_{p,o}  over the P validation problems

With several samples per problem, ``s_{p,o}`` is the mean over problem p's samples; with
``bugfix = "best"`` (``generation.bugfix``) the bugfix score of p is instead the best sample's,
``max_i passed_i / total_i``: a problem counts as repaired when one of its samples passes
every test, as a patch is judged in repair, and a genome is not rewarded for drawing the same
candidate again (``genome_objectives``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from coral_dagster.domain.config import OBJECTIVES, Weights


def objective_vector(objectives: Mapping[str, float], where: str = "objectives") -> np.ndarray:
    """The scores in ``OBJECTIVES`` order as a float array, after checking them.

    Raises ``ValueError`` naming ``where`` and the objective when one is missing, unknown,
    not a finite number or outside [0, 1].
    """
    unknown = sorted(set(objectives) - set(OBJECTIVES))
    if unknown:
        raise ValueError(f"{where}: unknown objective(s) {unknown}; expected {list(OBJECTIVES)}")
    values = []
    for name in OBJECTIVES:
        if name not in objectives:
            raise ValueError(f"{where}: objective {name!r} is missing")
        value = objectives[name]
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise ValueError(f"{where}: objective {name!r} must be a number, got {value!r}")
        value = float(value)
        if not (math.isfinite(value) and 0.0 <= value <= 1.0):
            raise ValueError(f"{where}: objective {name!r} must be in [0, 1], got {value!r}")
        values.append(value)
    return np.asarray(values, dtype=float)


def objective_matrix(objectives: Sequence[Mapping[str, float]]) -> np.ndarray:
    """Rows of ``objective_vector`` for each entry, shape (n, len(OBJECTIVES))."""
    rows = [objective_vector(o, where=f"objectives[{i}]") for i, o in enumerate(objectives)]
    if not rows:
        return np.zeros((0, len(OBJECTIVES)), dtype=float)
    return np.vstack(rows)


def fitness(objectives: Mapping[str, float], weights: Weights) -> float:
    """Weighted fitness sum_o w_o * s_o / sum_o w_o of one genome's objective scores, in [0, 1].

    The weights sum to 1 within 1e-6 (config validation); dividing by their sum and clipping to
    1.0 keeps float rounding (e.g. 1.0000000000000002 for a perfect genome) out of [0, 1].
    """
    vector = objective_vector(objectives)
    w = np.asarray([weights.as_dict()[o] for o in OBJECTIVES], dtype=float)
    return min(1.0, float(np.dot(w, vector) / w.sum()))


def mean_objectives(per_problem: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Mean of each objective over the validation problems; ``ValueError`` when empty."""
    if len(per_problem) == 0:
        raise ValueError("mean_objectives: no per-problem scores (empty validation set?)")
    means = objective_matrix(per_problem).mean(axis=0)
    return {name: float(means[i]) for i, name in enumerate(OBJECTIVES)}


def genome_objectives(
    samples: Sequence[tuple[str, Mapping[str, float]]], bugfix: Literal["mean", "best"] = "mean"
) -> dict[str, float]:
    """A genome's objectives from its ``(problem, objectives)`` samples: per problem the mean
    over its samples (``bugfix = "best"``: the bugfix score is the best sample's), then
    ``mean_objectives`` over the problems. ``ValueError`` when empty or ``bugfix`` is unknown."""
    if bugfix not in ("mean", "best"):
        raise ValueError(f"genome_objectives: bugfix must be 'mean' or 'best', got {bugfix!r}")
    by_problem: dict[str, list[Mapping[str, float]]] = {}
    for problem, objectives in samples:
        by_problem.setdefault(problem, []).append(objectives)
    per_problem = []
    for rows in by_problem.values():
        matrix = objective_matrix(rows)
        means = {name: float(matrix[:, i].mean()) for i, name in enumerate(OBJECTIVES)}
        if bugfix == "best":
            means["bugfix"] = float(matrix[:, OBJECTIVES.index("bugfix")].max())
        per_problem.append(means)
    return mean_objectives(per_problem)
