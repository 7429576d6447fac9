"""Four features of a cellular-automaton history, each a float in [0, 1].

A history is a uint8 array ``x`` of shape (T + 1, H, W) (see ``automaton.run_automaton``),
N = H * W cells per frame. Notation: ``|g|`` is the number of live cells of a 0/1 grid,
``a_t = |x_t XOR x_{t-1}| / N`` the fraction of cells that change at step t = 1..T.

- complexity  = mean_t H2x2(x_t) / 4, where H2x2 is the Shannon entropy (bits) of the 16
  possible 2x2 block patterns over all N toroidal 2x2 windows of frame t. 0 for a uniform
  grid, 1 when all 16 patterns are equally frequent (maximal local structure/disorder).
- intensity   = mean_{t=1..T} a_t: the change rate (0 for a still life or a dead grid).
- periodicity = max_{p=1..P} r(p), P = min(8, T), the strength of the best (shortest on ties)
  cycle in the second half of the history:
      r(p) = mean over t in [max(p, ceil(T/2)), T] of 1 - |x_t XOR x_{t-p}| / |x_t OR x_{t-p}|
  (a Jaccard similarity of frames p apart; two empty frames count as identical). A fixed
  point (still life, dead grid) is a cycle of period 1 and scores 1; so does a blinker (p=2).
- convergence = 1 - late / max(early, late), where early (late) is the mean of a_t over the
  first (last) ceil(T/2) steps; 1 when there is no activity at all. 1 means all activity has
  died out, 0 means activity did not decay (constant or growing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MAX_PERIOD = 8
FEATURE_NAMES: tuple[str, ...] = ("complexity", "intensity", "periodicity", "convergence")


@dataclass(frozen=True)
class CAFeatures:
    """The four features of a CA history, each in [0, 1] (formulas in the module docstring)."""

    complexity: float
    intensity: float
    periodicity: float
    convergence: float

    def __post_init__(self) -> None:
        for name in FEATURE_NAMES:
            value = float(getattr(self, name))
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"feature {name} must be in [0, 1], got {value!r}")
            object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in FEATURE_NAMES}


def _check_history(history: np.ndarray) -> np.ndarray:
    history = np.asarray(history)
    if history.ndim != 3 or history.shape[0] < 2 or history.shape[1] < 1 or history.shape[2] < 1:
        raise ValueError(
            f"CA history must have shape (steps + 1 >= 2, H >= 1, W >= 1), got {history.shape}"
        )
    if not np.isin(history, (0, 1)).all():
        raise ValueError("CA history cells must be 0 or 1")
    return history.astype(np.uint8, copy=False)


def block_entropy(history: np.ndarray) -> np.ndarray:
    """Per-frame Shannon entropy (bits, 0..4) of the 2x2 toroidal block patterns."""
    x = history.astype(np.int64)
    right = np.roll(x, -1, axis=2)
    down = np.roll(x, -1, axis=1)
    diag = np.roll(down, -1, axis=2)
    codes = x + 2 * right + 4 * down + 8 * diag
    frames = x.shape[0]
    offsets = 16 * np.arange(frames, dtype=np.int64)[:, None, None]
    counts = np.bincount((codes + offsets).ravel(), minlength=16 * frames).reshape(frames, 16)
    probs = counts / counts.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, -probs * np.log2(np.where(probs > 0, probs, 1.0)), 0.0)
    return terms.sum(axis=1)


def change_rates(history: np.ndarray) -> np.ndarray:
    """a_t for t = 1..T: fraction of cells that differ between frames t-1 and t."""
    return (history[1:] != history[:-1]).mean(axis=(1, 2))


def lag_similarity(history: np.ndarray, lag: int) -> float:
    """r(lag): mean Jaccard similarity of frames ``lag`` apart over the second half."""
    steps = history.shape[0] - 1
    if not 1 <= lag <= steps:
        raise ValueError(f"lag must be in 1..{steps}, got {lag}")
    start = max(lag, math.ceil(steps / 2))
    now = history[start:].astype(bool)
    then = history[start - lag : steps + 1 - lag].astype(bool)
    differ = (now ^ then).sum(axis=(1, 2))
    union = (now | then).sum(axis=(1, 2))
    similarity = np.where(union > 0, 1.0 - differ / np.maximum(union, 1), 1.0)
    return float(similarity.mean())


def extract_features(history: np.ndarray) -> CAFeatures:
    """Complexity, intensity, periodicity and convergence of a CA history (see module doc)."""
    history = _check_history(history)
    steps = history.shape[0] - 1
    complexity = float(block_entropy(history).mean() / 4.0)
    rates = change_rates(history)
    intensity = float(rates.mean())
    periodicity = max(lag_similarity(history, p) for p in range(1, min(MAX_PERIOD, steps) + 1))
    half = math.ceil(steps / 2)
    early = float(rates[:half].mean())
    late = float(rates[steps - half :].mean())
    peak = max(early, late)
    convergence = 1.0 if peak == 0.0 else 1.0 - late / peak
    return CAFeatures(
        complexity=min(complexity, 1.0),  # entropy <= 4 bits; clip float round-off only
        intensity=intensity,
        periodicity=periodicity,
        convergence=convergence,
    )
