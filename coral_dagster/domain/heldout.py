"""Held-out statistics: pass@k, percentile bootstrap CIs over problems, paired method comparisons.

Terms, per method and held-out problem: ``n`` samples were generated; each sample's *pass rate*
is the fraction of the problem's tests it passes (in [0, 1]); ``c`` samples pass all tests
(pass rate exactly 1.0, which ``passed / total`` is whenever ``passed == total``).

- pass@k (Chen et al. 2021, unbiased): 1 - C(n-c, k) / C(n, k), averaged over problems.
- mean pass rate: mean over problems of (mean over the problem's samples of the pass rate).
- fully fixed problem: a problem whose *best* sample passes all its tests (c >= 1).
- CIs: percentile bootstrap over problems (resample problems with replacement, take the
  (1-level)/2 and (1+level)/2 empirical quantiles of the resampled mean).
- comparisons: paired bootstrap over the same problems of the difference in mean pass rate;
  the difference is *not significant* when its CI contains 0.

Pure Python + numpy; every random draw comes from an explicit ``numpy.random.Generator``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    return rng


def _check_level(level: float) -> float:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level}")
    return float(level)


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem: 1 - C(n-c, k) / C(n, k).

    ``n`` samples, ``c`` of them correct. Equals 1.0 when n - c < k (every k-subset holds a
    correct sample); otherwise computed stably as 1 - prod_{i=n-c+1}^{n} (1 - k/i).
    Raises for k < 1, n < 1, c < 0, k > n or c > n.
    """
    n = _check_int("n", n, 1)
    c = _check_int("c", c, 0)
    k = _check_int("k", k, 1)
    if k > n:
        raise ValueError(f"pass@k needs k <= n, got k={k} > n={n}")
    if c > n:
        raise ValueError(f"correct samples c={c} exceed samples n={n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def _as_finite_array(values: Sequence[float], what: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{what} must be a non-empty 1-d sequence, got shape {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise ValueError(f"{what}[{bad[0]}] is not finite: {float(arr[bad[0]])!r}")
    return arr


def _bootstrap_means(arr: np.ndarray, rng: np.random.Generator, resamples: int) -> np.ndarray:
    """Means of ``resamples`` resamples of ``arr`` (same size, with replacement)."""
    idx = rng.integers(0, arr.size, size=(resamples, arr.size))
    return arr[idx].mean(axis=1)


def _percentile_interval(stats: np.ndarray, level: float) -> tuple[float, float]:
    """Empirical (1-level)/2 and (1+level)/2 quantiles (inverted CDF: values actually drawn)."""
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(stats, [tail, 1.0 - tail], method="inverted_cdf")
    return float(low), float(high)


def bootstrap_ci(
    values: Sequence[float],
    rng: np.random.Generator,
    resamples: int = 1000,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """Percentile bootstrap CI of the mean: (sample mean, low, high).

    Draws ``resamples`` resamples of ``values`` with replacement; low/high are the (1-level)/2 and
    (1+level)/2 empirical quantiles (inverted-CDF definition) of the resampled means.
    """
    arr = _as_finite_array(values, "values")
    resamples = _check_int("resamples", resamples, 1)
    level = _check_level(level)
    means = _bootstrap_means(arr, _check_rng(rng), resamples)
    low, high = _percentile_interval(means, level)
    return float(arr.mean()), low, high


@dataclass(frozen=True)
class ProblemScores:
    """One method on one problem: ``n`` samples, ``c`` fully passing, mean and best pass rate."""

    problem: str
    n: int
    c: int
    mean_pass_rate: float
    best_pass_rate: float

    @classmethod
    def from_pass_rates(cls, problem: str, pass_rates: Sequence[float]) -> ProblemScores:
        """Summarise the pass rates (each in [0, 1]) of a problem's samples."""
        rates = _as_finite_array(pass_rates, f"pass rates of problem {problem!r}")
        outside = np.flatnonzero((rates < 0.0) | (rates > 1.0))
        if outside.size:
            i = int(outside[0])
            raise ValueError(
                f"problem {problem!r}: sample {i} has pass rate {float(rates[i])!r} outside [0, 1]"
            )
        return cls(
            problem=problem,
            n=int(rates.size),
            c=int(np.count_nonzero(rates == 1.0)),
            mean_pass_rate=float(rates.mean()),
            best_pass_rate=float(rates.max()),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "n": self.n,
            "c": self.c,
            "mean_pass_rate": self.mean_pass_rate,
            "best_pass_rate": self.best_pass_rate,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProblemScores:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class MethodScores:
    """Per-problem scores of one method (e.g. an evolved genome, or base model + neutral knobs).

    ``problems`` is sorted by problem name, so results never depend on mapping order.
    """

    method: str
    problems: tuple[ProblemScores, ...]

    @classmethod
    def from_pass_rates(
        cls, method: str, per_problem: Mapping[str, Sequence[float]]
    ) -> MethodScores:
        """Build from ``problem -> pass rates of its n samples``."""
        if not per_problem:
            raise ValueError(f"method {method!r}: no held-out problems given")
        return cls(
            method=method,
            problems=tuple(
                ProblemScores.from_pass_rates(name, per_problem[name])
                for name in sorted(per_problem)
            ),
        )

    @property
    def problem_names(self) -> tuple[str, ...]:
        return tuple(p.problem for p in self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "problems": [p.to_dict() for p in self.problems]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MethodScores:
        return cls(
            method=data["method"],
            problems=tuple(ProblemScores.from_dict(p) for p in data["problems"]),
        )


def _pair(values: Sequence[float], what: str) -> tuple[float, float]:
    if len(values) != 2:
        raise ValueError(f"{what} must be [low, high], got {values!r}")
    return float(values[0]), float(values[1])


@dataclass(frozen=True)
class MethodSummary:
    """Held-out summary of one method; CIs are percentile bootstraps over problems.

    ``pass_at_k`` maps k to the mean over problems of pass@k; a requested k larger than some
    problem's sample count is left out and explained in ``notes``. ``pass_at_1`` is always set.
    """

    method: str
    n_problems: int
    fully_fixed_problems: tuple[str, ...]
    mean_pass_rate: float
    mean_pass_rate_ci: tuple[float, float]
    pass_at_1: float
    pass_at_1_ci: tuple[float, float]
    pass_at_k: dict[int, float]
    level: float
    resamples: int
    scores: MethodScores
    notes: tuple[str, ...] = field(default=())

    @property
    def problems_fully_fixed(self) -> int:
        """Number of problems whose best sample passes all tests."""
        return len(self.fully_fixed_problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "n_problems": self.n_problems,
            "fully_fixed_problems": list(self.fully_fixed_problems),
            "mean_pass_rate": self.mean_pass_rate,
            "mean_pass_rate_ci": list(self.mean_pass_rate_ci),
            "pass_at_1": self.pass_at_1,
            "pass_at_1_ci": list(self.pass_at_1_ci),
            "pass_at_k": {str(k): v for k, v in sorted(self.pass_at_k.items())},
            "level": self.level,
            "resamples": self.resamples,
            "scores": self.scores.to_dict(),
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MethodSummary:
        return cls(
            method=data["method"],
            n_problems=int(data["n_problems"]),
            fully_fixed_problems=tuple(data["fully_fixed_problems"]),
            mean_pass_rate=float(data["mean_pass_rate"]),
            mean_pass_rate_ci=_pair(data["mean_pass_rate_ci"], "mean_pass_rate_ci"),
            pass_at_1=float(data["pass_at_1"]),
            pass_at_1_ci=_pair(data["pass_at_1_ci"], "pass_at_1_ci"),
            pass_at_k={int(k): float(v) for k, v in data["pass_at_k"].items()},
            level=float(data["level"]),
            resamples=int(data["resamples"]),
            scores=MethodScores.from_dict(data["scores"]),
            notes=tuple(data["notes"]),
        )


def summarize_method(
    name: str,
    per_problem: Mapping[str, Sequence[float]],
    ks: Sequence[int] = (1, 5),
    *,
    rng: np.random.Generator,
    resamples: int = 1000,
    level: float = 0.95,
) -> MethodSummary:
    """Summarise a method from ``problem -> pass rates of its n samples`` (each in [0, 1]).

    Draws from ``rng`` in a fixed order: the mean-pass-rate CI, then the pass@1 CI.
    """
    scores = MethodScores.from_pass_rates(name, per_problem)
    resamples = _check_int("resamples", resamples, 1)
    level = _check_level(level)
    ks = [_check_int("k", k, 1) for k in ks]
    if len(set(ks)) != len(ks):
        raise ValueError(f"ks has duplicates: {list(ks)}")

    fewest = min(scores.problems, key=lambda p: (p.n, p.problem))
    pass_at: dict[int, float] = {}
    notes: list[str] = []
    for k in sorted(ks):
        if k > fewest.n:
            notes.append(
                f"pass@{k} omitted: problem {fewest.problem!r} has only {fewest.n} "
                f"sample{'s' if fewest.n != 1 else ''} (k > n)"
            )
            continue
        pass_at[k] = float(np.mean([pass_at_k(p.n, p.c, k) for p in scores.problems]))

    mean_rate, *rate_ci = bootstrap_ci(
        [p.mean_pass_rate for p in scores.problems], rng, resamples, level
    )
    p1, *p1_ci = bootstrap_ci([p.c / p.n for p in scores.problems], rng, resamples, level)
    return MethodSummary(
        method=name,
        n_problems=len(scores.problems),
        fully_fixed_problems=tuple(p.problem for p in scores.problems if p.c >= 1),
        mean_pass_rate=mean_rate,
        mean_pass_rate_ci=(rate_ci[0], rate_ci[1]),
        pass_at_1=p1,
        pass_at_1_ci=(p1_ci[0], p1_ci[1]),
        pass_at_k=pass_at,
        level=level,
        resamples=resamples,
        scores=scores,
        notes=tuple(notes),
    )


@dataclass(frozen=True)
class Comparison:
    """Paired bootstrap of ``method`` minus ``reference`` in mean pass rate over shared problems.

    ``difference`` = mean pass rate(method) - mean pass rate(reference); ``low``/``high`` its
    percentile CI; ``inside`` is True when the CI contains 0 (no significant difference).
    """

    method: str
    reference: str
    difference: float
    low: float
    high: float
    level: float
    resamples: int
    n_problems: int

    @property
    def inside(self) -> bool:
        return self.low <= 0.0 <= self.high

    @property
    def sentence(self) -> str:
        """Plain-language verdict, e.g. ``evolved vs base: +0.12 mean pass rate, 95% CI [...]``."""
        verdict = (
            "inside the interval, not a significant difference"
            if self.inside
            else f"outside the interval, a significant difference ({self.method} "
            f"{'better' if self.difference > 0 else 'worse'})"
        )
        return (
            f"{self.method} vs {self.reference}: {self.difference:+.2f} mean pass rate, "
            f"{self.level * 100:g}% CI [{self.low:.2f}, {self.high:.2f}]: {verdict}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "reference": self.reference,
            "difference": self.difference,
            "low": self.low,
            "high": self.high,
            "level": self.level,
            "resamples": self.resamples,
            "n_problems": self.n_problems,
            "inside": self.inside,
            "sentence": self.sentence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Comparison:
        """Rebuild from ``to_dict`` output (``inside`` and ``sentence`` are derived, not read)."""
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})


def best_method(summaries: Sequence[MethodSummary]) -> MethodSummary:
    """Highest mean pass rate; ties broken by higher pass@1, then by method name."""
    if not summaries:
        raise ValueError("no method summaries to rank")
    return min(summaries, key=lambda s: (-s.mean_pass_rate, -s.pass_at_1, s.method))


def compare_methods(
    summaries: Sequence[MethodSummary],
    rng: np.random.Generator,
    reference: str | None = None,
    resamples: int = 1000,
    level: float = 0.95,
) -> list[Comparison]:
    """Compare each method with ``reference`` (default: the best-ranked, see ``best_method``).

    Paired bootstrap: one resample of problem indices is applied to both methods, so the CI is of
    the difference of means over the same problems. All methods must cover exactly the same
    problems. Returns one ``Comparison`` per non-reference method, in input order.
    """
    _check_rng(rng)
    resamples = _check_int("resamples", resamples, 1)
    level = _check_level(level)
    names = [s.method for s in summaries]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"duplicate method names in held-out summaries: {duplicates}")
    if reference is None:
        ref = best_method(summaries)
    else:
        matches = [s for s in summaries if s.method == reference]
        if not matches:
            raise ValueError(f"reference method {reference!r} not among {names}")
        ref = matches[0]

    ref_rates = np.array([p.mean_pass_rate for p in ref.scores.problems])
    comparisons = []
    for summary in summaries:
        if summary.method == ref.method:
            continue
        if summary.scores.problem_names != ref.scores.problem_names:
            only_here = sorted(set(summary.scores.problem_names) - set(ref.scores.problem_names))
            only_ref = sorted(set(ref.scores.problem_names) - set(summary.scores.problem_names))
            raise ValueError(
                f"paired comparison needs the same problems: {summary.method!r} only has "
                f"{only_here}, {ref.method!r} only has {only_ref}"
            )
        diffs = np.array([p.mean_pass_rate for p in summary.scores.problems]) - ref_rates
        low, high = _percentile_interval(_bootstrap_means(diffs, rng, resamples), level)
        comparisons.append(
            Comparison(
                method=summary.method,
                reference=ref.method,
                difference=float(diffs.mean()),
                low=low,
                high=high,
                level=level,
                resamples=resamples,
                n_problems=int(diffs.size),
            )
        )
    return comparisons
