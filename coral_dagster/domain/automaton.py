"""Life-like cellular automaton on a 2-D torus (Moore neighbourhood, outer-totalistic rules).

Rule encoding: ``"B<digits>/S<digits>"`` (see ``genome.canonical_rule``). Each digit is a count
``n`` in 0..8 of live cells among the 8 Moore neighbours (the cell itself excluded). One step:

    n_t(i, j)    = sum of x_t(i + di, j + dj) over (di, dj) in {-1, 0, 1}^2 \\ {(0, 0)},
                   indices taken modulo (H, W) (the grid wraps around: a torus)
    x_{t+1}(i,j) = 1 if x_t(i, j) = 0 and n_t(i, j) in B      (birth)
                   1 if x_t(i, j) = 1 and n_t(i, j) in S      (survival)
                   0 otherwise                                (death / stays dead)

``"B3/S23"`` is Conway's Life: a dead cell with exactly 3 live neighbours is born, a live cell
with 2 or 3 live neighbours survives. ``"B2/S"`` (empty survival set) kills every live cell
after one step. All updates are synchronous.
"""

from __future__ import annotations

import numpy as np

from coral_dagster.domain.genome import CASeed, parse_rule

_NEIGHBOUR_OFFSETS: tuple[tuple[int, int], ...] = tuple(
    (di, dj) for di in (-1, 0, 1) for dj in (-1, 0, 1) if (di, dj) != (0, 0)
)


def rule_tables(rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Lookup tables (birth, survival): bool arrays of length 9 indexed by neighbour count."""
    birth, survival = parse_rule(rule)
    birth_table = np.zeros(9, dtype=bool)
    survival_table = np.zeros(9, dtype=bool)
    birth_table[sorted(birth)] = True
    survival_table[sorted(survival)] = True
    return birth_table, survival_table


def neighbour_counts(grid: np.ndarray) -> np.ndarray:
    """Live Moore neighbours of every cell on the torus, shape (H, W), values 0..8."""
    counts = np.zeros(grid.shape, dtype=np.uint8)
    for di, dj in _NEIGHBOUR_OFFSETS:
        counts += np.roll(grid, shift=(di, dj), axis=(0, 1))
    return counts


def step(grid: np.ndarray, birth_table: np.ndarray, survival_table: np.ndarray) -> np.ndarray:
    """One synchronous update of a 0/1 uint8 grid under the rule given by its lookup tables."""
    counts = neighbour_counts(grid)
    alive = grid.astype(bool)
    nxt = np.where(alive, survival_table[counts], birth_table[counts])
    return nxt.astype(np.uint8)


def run_automaton(seed: CASeed) -> np.ndarray:
    """History of the automaton from ``seed.grid`` for ``seed.steps`` steps.

    Returns a uint8 array of shape ``(steps + 1, H, W)``; index 0 is the seed grid itself.
    """
    birth_table, survival_table = rule_tables(seed.rule)
    height, width = seed.shape
    history = np.empty((seed.steps + 1, height, width), dtype=np.uint8)
    history[0] = np.asarray(seed.grid, dtype=np.uint8)
    for t in range(seed.steps):
        history[t + 1] = step(history[t], birth_table, survival_table)
    return history
