"""Early stopping on the history of the best fitness per generation.

Generation g improves when best[g] > max(best[0..g-1]) + min_delta. Evolution stops once
the last ``patience`` generations brought no improvement, i.e. when
len(best) > patience and max(best[-patience:]) <= max(best[:-patience]) + min_delta.
"""

from __future__ import annotations

from collections.abc import Sequence


def should_stop(best_fitness: Sequence[float], patience: int, min_delta: float) -> bool:
    """True when the best fitness has not improved by more than ``min_delta`` for ``patience``."""
    if patience < 1:
        raise ValueError(f"patience must be >= 1, got {patience}")
    if min_delta < 0:
        raise ValueError(f"min_delta must be >= 0, got {min_delta}")
    if len(best_fitness) <= patience:
        return False
    before = max(best_fitness[:-patience])
    recent = max(best_fitness[-patience:])
    return recent <= before + min_delta


def stop_generation(best_fitness: Sequence[float], patience: int, min_delta: float) -> int | None:
    """The generation after which early stopping fires, or None.

    ``best_fitness`` is the best fitness of the completely scored generations 0, 1, ...; the
    result is ``u - 1`` for the first ``u`` with ``should_stop(best_fitness[:u])``.
    """
    for upto in range(1, len(best_fitness) + 1):
        if should_stop(best_fitness[:upto], patience, min_delta):
            return upto - 1
    return None
