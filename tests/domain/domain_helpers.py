"""Helpers shared by the domain tests (imported by name; pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from coral_dagster.domain.config import OBJECTIVES, ExperimentConfig, config_to_dict, parse_config
from coral_dagster.domain.genome import CASeed

REPO = Path(__file__).resolve().parents[2]


def seed_from_cells(cells: list[tuple[int, int]], size: int, rule: str, steps: int) -> CASeed:
    """A CA seed with exactly ``cells`` alive (wrapped onto a size x size grid)."""
    grid = np.zeros((size, size), dtype=int)
    for r, c in cells:
        grid[r % size, c % size] = 1
    return CASeed(grid=tuple(map(tuple, grid.tolist())), rule=rule, steps=steps)


def random_objectives(count: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """``count`` objective maps with scores on a 1/4 grid in [0, 1] (ties are likely)."""
    return [{o: float(rng.integers(0, 5)) / 4 for o in OBJECTIVES} for _ in range(count)]


def config_variant(config: ExperimentConfig, changes: dict[str, Any]) -> ExperimentConfig:
    """``config`` with ``changes`` merged in section by section, validated again."""

    def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
        out = dict(base)
        for key, value in update.items():
            out[key] = merge(base[key], value) if isinstance(value, dict) else value
        return out

    return parse_config(merge(config_to_dict(config), changes), source="<test variant>")
