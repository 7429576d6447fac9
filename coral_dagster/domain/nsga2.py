"""NSGA-II building blocks (Deb et al. 2002), all objectives *maximised*.

- a dominates b  iff  a_o >= b_o for every objective o and a_o > b_o for at least one.
- Fast non-dominated sorting: front 0 is the set no point dominates; front k holds the
  points dominated only by points of fronts < k. Rank of a point = index of its front.
- Crowding distance within a front, per objective o with the front sorted (stably) by o:
  the first and last points get +inf; an interior point i gets
  (f_o[next] - f_o[prev]) / (max_o - min_o) added (nothing when max_o = min_o).
- Crowded tournament: lower rank wins, then larger crowding distance, then lower index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from coral_dagster.domain.scoring import objective_matrix


def _as_matrix(values: np.ndarray) -> np.ndarray:
    matrix = np.asarray(values, dtype=float)
    if matrix.ndim != 2:
        raise ValueError(f"objective matrix must be 2-D (points, objectives), got {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise ValueError("objective matrix holds a non-finite value")
    return matrix


def dominates(a: np.ndarray, b: np.ndarray) -> bool:
    """True when ``a`` is at least as good as ``b`` everywhere and better somewhere."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    return bool(np.all(a >= b) and np.any(a > b))


def domination_matrix(values: np.ndarray) -> np.ndarray:
    """Boolean (n, n) matrix D with D[i, j] = point i dominates point j."""
    m = _as_matrix(values)
    at_least = (m[:, None, :] >= m[None, :, :]).all(axis=2)
    better = (m[:, None, :] > m[None, :, :]).any(axis=2)
    return at_least & better


def non_dominated_sort(values: np.ndarray) -> list[list[int]]:
    """Fronts (lists of row indices, ascending) of the objective matrix, best front first."""
    dom = domination_matrix(values)
    dominated_by = dom.sum(axis=0)
    fronts: list[list[int]] = []
    current = [int(i) for i in np.flatnonzero(dominated_by == 0)]
    while current:
        fronts.append(current)
        nxt = []
        for i in current:
            for j in np.flatnonzero(dom[i]):
                dominated_by[j] -= 1
                if dominated_by[j] == 0:
                    nxt.append(int(j))
        current = sorted(nxt)
    return fronts


def crowding_distance(values: np.ndarray, front: Sequence[int]) -> np.ndarray:
    """Crowding distance of each member of ``front`` (same order as ``front``)."""
    m = _as_matrix(values)[list(front)]
    size = len(front)
    distance = np.zeros(size, dtype=float)
    if size == 0:
        return distance
    for o in range(m.shape[1]):
        order = np.argsort(m[:, o], kind="stable")
        distance[order[0]] = np.inf
        distance[order[-1]] = np.inf
        span = m[order[-1], o] - m[order[0], o]
        if span <= 0 or size < 3:
            continue
        gaps = (m[order[2:], o] - m[order[:-2], o]) / span
        distance[order[1:-1]] += gaps
    return distance


def rank_and_crowding(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per point: its front index (rank) and its crowding distance within that front."""
    m = _as_matrix(values)
    rank = np.zeros(len(m), dtype=int)
    crowding = np.zeros(len(m), dtype=float)
    for k, front in enumerate(non_dominated_sort(m)):
        rank[front] = k
        crowding[front] = crowding_distance(m, front)
    return rank, crowding


def pareto_front_indices(objectives: Sequence[Mapping[str, float]]) -> list[int]:
    """Indices (ascending) of the non-dominated genomes, given their objective score maps."""
    matrix = objective_matrix(objectives)
    if len(matrix) == 0:
        return []
    return non_dominated_sort(matrix)[0]


def crowded_order(rank: np.ndarray, crowding: np.ndarray) -> list[int]:
    """All indices best first: rank ascending, crowding descending, index ascending."""
    return sorted(range(len(rank)), key=lambda i: (int(rank[i]), -float(crowding[i]), i))


def tournament_select(
    rank: np.ndarray,
    crowding: np.ndarray,
    count: int,
    tournament_size: int,
    rng: np.random.Generator,
) -> list[int]:
    """``count`` distinct indices, each the winner of a crowded tournament.

    Each tournament draws ``min(tournament_size, remaining)`` contestants without replacement
    from the indices not yet selected; the winner (lower rank, then larger crowding, then
    lower index) leaves the pool, so no index is returned twice.
    """
    n = len(rank)
    if len(crowding) != n:
        raise ValueError(f"rank ({n}) and crowding ({len(crowding)}) lengths differ")
    if not 0 <= count <= n:
        raise ValueError(f"cannot select {count} distinct individuals out of {n}")
    if tournament_size < 1:
        raise ValueError(f"tournament_size must be >= 1, got {tournament_size}")
    pool = list(range(n))
    chosen = []
    for _ in range(count):
        picks = rng.choice(len(pool), size=min(tournament_size, len(pool)), replace=False)
        contestants = [pool[int(p)] for p in picks]
        winner = min(contestants, key=lambda i: (int(rank[i]), -float(crowding[i]), i))
        chosen.append(winner)
        pool.remove(winner)
    return chosen
