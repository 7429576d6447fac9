"""Held-out statistics: pass@k, bootstrap CIs, method summaries and paired comparisons."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coral_dagster.domain.heldout import (
    Comparison,
    MethodSummary,
    best_method,
    bootstrap_ci,
    compare_methods,
    pass_at_k,
    summarize_method,
)

# ---------------------------------------------------------------------------- pass@k


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 1, 1, 0.2),
        (5, 0, 1, 0.0),
        (5, 5, 1, 1.0),
        (5, 2, 5, 1.0),  # n - c = 3 < k: every 5-subset holds a correct sample
        (10, 3, 5, 1 - 21 / 252),  # 1 - C(7,5)/C(10,5) = 0.91666...
        (10, 1, 5, 0.5),  # 1 - C(9,5)/C(10,5) = 1 - 126/252
        (4, 2, 2, 1 - 1 / 6),  # 1 - C(2,2)/C(4,2)
    ],
)
def test_pass_at_k_hand_computed(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 60).flatmap(
        lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))
    )
)
def test_pass_at_k_matches_binomial_formula(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    exact = 1.0 - math.comb(n - c, k) / math.comb(n, k)  # comb is 0 when n - c < k
    assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


@pytest.mark.parametrize(
    ("n", "c", "k", "error", "match"),
    [
        (5, 1, 6, ValueError, "k <= n"),
        (5, 6, 1, ValueError, "exceed"),
        (5, -1, 1, ValueError, "c must be >= 0"),
        (5, 1, 0, ValueError, "k must be >= 1"),
        (0, 0, 1, ValueError, "n must be >= 1"),
        (5.0, 1, 1, TypeError, "n must be an int"),
    ],
)
def test_pass_at_k_rejects_bad_arguments(n, c, k, error, match) -> None:
    with pytest.raises(error, match=match):
        pass_at_k(n, c, k)


# ---------------------------------------------------------------------------- bootstrap


def test_bootstrap_constant_values_give_degenerate_interval() -> None:
    mean, low, high = bootstrap_ci([0.375] * 7, np.random.default_rng(0), resamples=500)
    assert mean == low == high == 0.375


def test_bootstrap_two_values_small_n_spans_both() -> None:
    # n = 2: resampled mean is 0, 0.5 or 1 with probabilities 1/4, 1/2, 1/4.
    mean, low, high = bootstrap_ci([0.0, 1.0], np.random.default_rng(1), resamples=4000)
    assert (mean, low, high) == (0.5, 0.0, 1.0)


def _binomial_quantile(n: int, p: float, q: float) -> int:
    """Smallest b with P(Binomial(n, p) <= b) >= q."""
    cdf = 0.0
    for b in range(n + 1):
        cdf += math.comb(n, b) * p**b * (1 - p) ** (n - b)
        if cdf >= q:
            return b
    return n


def test_bootstrap_matches_exact_binomial_quantiles() -> None:
    # 20 values, half 0 and half 1: the resampled mean is Binomial(20, 1/2) / 20. Its exact
    # 2.5% and 97.5% quantiles are 6/20 and 14/20 (CDF 0.0207 at 5, 0.0577 at 6; 0.9423 at 13,
    # 0.9793 at 14), far from the boundaries relative to the noise of 100k resamples.
    values = [0.0] * 10 + [1.0] * 10
    mean, low, high = bootstrap_ci(values, np.random.default_rng(2), resamples=100_000)
    assert mean == 0.5
    assert low == _binomial_quantile(20, 0.5, 0.025) / 20 == 0.30
    assert high == _binomial_quantile(20, 0.5, 0.975) / 20 == 0.70


def test_bootstrap_level_widens_interval() -> None:
    values = np.random.default_rng(3).uniform(size=30)
    _, low90, high90 = bootstrap_ci(values, np.random.default_rng(4), resamples=2000, level=0.9)
    _, low99, high99 = bootstrap_ci(values, np.random.default_rng(4), resamples=2000, level=0.99)
    assert low99 < low90 < values.mean() < high90 < high99


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    values = [0.1, 0.9, 0.4, 0.4, 0.0, 1.0]
    first = bootstrap_ci(values, np.random.default_rng(11), resamples=300)
    again = bootstrap_ci(values, np.random.default_rng(11), resamples=300)
    other = bootstrap_ci(values, np.random.default_rng(12), resamples=300)
    assert first == again
    assert first != other


@pytest.mark.parametrize(
    ("values", "kwargs", "match"),
    [
        ([], {}, "non-empty"),
        ([0.1, float("nan")], {}, r"values\[1\] is not finite"),
        ([0.1], {"level": 1.0}, "level"),
        ([0.1], {"resamples": 0}, "resamples"),
    ],
)
def test_bootstrap_rejects_bad_input(values, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        bootstrap_ci(values, np.random.default_rng(0), **kwargs)


def test_bootstrap_requires_a_generator() -> None:
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        bootstrap_ci([0.1, 0.2], 42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- summaries

PER_PROBLEM = {
    "gcd": [1.0, 0.5, 0.0, 1.0, 0.0],  # n=5, c=2, mean 0.5
    "bitcount": [0.0, 0.0, 0.25, 0.0, 0.0],  # n=5, c=0, mean 0.05, best 0.25: not fixed
    "sieve": [1.0, 1.0, 1.0, 1.0, 1.0],  # n=5, c=5, mean 1.0
}


def test_summarize_method_hand_computed() -> None:
    summary = summarize_method("evolved", PER_PROBLEM, rng=np.random.default_rng(0))
    assert summary.method == "evolved"
    assert summary.n_problems == 3
    assert summary.fully_fixed_problems == ("gcd", "sieve")
    assert summary.problems_fully_fixed == 2
    assert summary.mean_pass_rate == pytest.approx((0.5 + 0.05 + 1.0) / 3)
    assert summary.pass_at_1 == pytest.approx((2 / 5 + 0 + 1) / 3)
    assert summary.pass_at_k[1] == pytest.approx(summary.pass_at_1)
    assert summary.pass_at_k[5] == pytest.approx((1.0 + 0.0 + 1.0) / 3)
    assert summary.notes == ()
    low, high = summary.mean_pass_rate_ci
    assert 0.05 <= low <= summary.mean_pass_rate <= high <= 1.0
    low1, high1 = summary.pass_at_1_ci
    assert 0.0 <= low1 <= summary.pass_at_1 <= high1 <= 1.0
    by_name = {p.problem: p for p in summary.scores.problems}
    assert (by_name["gcd"].n, by_name["gcd"].c, by_name["gcd"].mean_pass_rate) == (5, 2, 0.5)
    assert by_name["bitcount"].best_pass_rate == 0.25


def test_summarize_method_omits_k_larger_than_samples_with_a_note() -> None:
    per_problem = {"a": [1.0, 0.0, 0.0], "b": [0.0, 0.0, 0.0, 0.0, 1.0]}
    summary = summarize_method("m", per_problem, ks=(1, 3, 5), rng=np.random.default_rng(0))
    assert sorted(summary.pass_at_k) == [1, 3]
    assert summary.pass_at_k[3] == pytest.approx(
        (1.0 + (1 - math.comb(4, 3) / math.comb(5, 3))) / 2
    )
    assert summary.notes == ("pass@5 omitted: problem 'a' has only 3 samples (k > n)",)


def test_summarize_method_is_deterministic_and_order_independent() -> None:
    reordered = dict(reversed(list(PER_PROBLEM.items())))
    first = summarize_method("m", PER_PROBLEM, rng=np.random.default_rng(5), resamples=200)
    again = summarize_method("m", reordered, rng=np.random.default_rng(5), resamples=200)
    assert first == again


@pytest.mark.parametrize(
    ("per_problem", "match"),
    [
        ({}, "no held-out problems"),
        ({"gcd": []}, "problem 'gcd'"),
        ({"gcd": [0.5, 1.5]}, r"problem 'gcd': sample 1 has pass rate 1\.5 outside \[0, 1\]"),
    ],
)
def test_summarize_method_names_the_bad_problem(per_problem, match) -> None:
    with pytest.raises(ValueError, match=match):
        summarize_method("m", per_problem, rng=np.random.default_rng(0))


def test_method_summary_json_round_trip() -> None:
    summary = summarize_method("evolved", PER_PROBLEM, ks=(1, 5, 9), rng=np.random.default_rng(0))
    assert summary.notes  # pass@9 omitted
    restored = MethodSummary.from_dict(json.loads(json.dumps(summary.to_dict())))
    assert restored == summary


# ---------------------------------------------------------------------------- comparisons


def _summary(name: str, rates: dict[str, list[float]], seed: int = 0) -> MethodSummary:
    return summarize_method(name, rates, rng=np.random.default_rng(seed), resamples=500)


def test_identical_methods_are_not_significantly_different() -> None:
    a, b = _summary("evolved", PER_PROBLEM), _summary("base+neutral", PER_PROBLEM)
    (comparison,) = compare_methods([a, b], np.random.default_rng(0))
    assert (comparison.difference, comparison.low, comparison.high) == (0.0, 0.0, 0.0)
    assert comparison.inside


def test_pairing_detects_a_constant_gain_that_unpaired_intervals_hide() -> None:
    # Problems differ wildly in difficulty; "evolved" is exactly 0.1 better on every one of them.
    difficulty = np.random.default_rng(7).uniform(0.0, 0.8, size=12)
    base = {f"p{i}": [float(d)] * 4 for i, d in enumerate(difficulty)}
    evolved = {f"p{i}": [float(d) + 0.1] * 4 for i, d in enumerate(difficulty)}
    s_base, s_evolved = _summary("base+neutral", base), _summary("evolved", evolved)
    # Unpaired, the two methods' CIs overlap ...
    assert s_evolved.mean_pass_rate_ci[0] < s_base.mean_pass_rate_ci[1]
    # ... paired over the same problems, the difference is exactly +0.1 in every resample.
    (comparison,) = compare_methods([s_base, s_evolved], np.random.default_rng(0))
    assert comparison.reference == "evolved"  # best-ranked by default
    assert comparison.method == "base+neutral"
    assert comparison.difference == pytest.approx(-0.1)
    assert comparison.low == pytest.approx(-0.1) and comparison.high == pytest.approx(-0.1)
    assert not comparison.inside
    assert comparison.sentence == (
        "base+neutral vs evolved: -0.10 mean pass rate, 95% CI [-0.10, -0.10]: "
        "outside the interval, a significant difference (base+neutral worse)"
    )


def test_noisy_difference_is_inside_the_interval_with_sentence() -> None:
    base = {"a": [0.0], "b": [1.0], "c": [0.5], "d": [0.0], "e": [1.0]}
    evolved = {"a": [1.0], "b": [0.5], "c": [1.0], "d": [0.0], "e": [0.6]}  # diffs +1,-.5,+.5,0,-.4
    comparisons = compare_methods(
        [_summary("evolved", evolved), _summary("base+neutral", base)],
        np.random.default_rng(3),
        reference="base+neutral",
    )
    (comparison,) = comparisons
    assert comparison.difference == pytest.approx(0.12)
    assert comparison.low < 0.0 < comparison.high
    assert comparison.inside
    assert comparison.sentence == (
        f"evolved vs base+neutral: +0.12 mean pass rate, 95% CI "
        f"[{comparison.low:.2f}, {comparison.high:.2f}]: inside the interval, not a significant "
        "difference"
    )
    restored = Comparison.from_dict(json.loads(json.dumps(comparison.to_dict())))
    assert restored == comparison


def test_compare_methods_is_deterministic_for_a_seed() -> None:
    base = {"a": [0.0, 0.5], "b": [1.0, 1.0], "c": [0.5, 0.0], "d": [0.25, 0.0]}
    other = {"a": [1.0, 0.5], "b": [0.5, 1.0], "c": [1.0, 1.0], "d": [0.0, 0.0]}
    summaries = [_summary("x", base), _summary("y", other)]
    assert compare_methods(summaries, np.random.default_rng(9)) == compare_methods(
        summaries, np.random.default_rng(9)
    )


def test_best_method_ranks_by_mean_pass_rate() -> None:
    worse = _summary("worse", {"a": [0.0], "b": [0.5]})
    better = _summary("better", {"a": [1.0], "b": [0.5]})
    assert best_method([worse, better]).method == "better"
    comparisons = compare_methods([worse, better], np.random.default_rng(0))
    assert [(c.method, c.reference) for c in comparisons] == [("worse", "better")]


def test_compare_methods_errors_name_the_culprit() -> None:
    a = _summary("a", {"p1": [1.0], "p2": [0.0]})
    b = _summary("b", {"p1": [1.0], "p3": [0.0]})
    with pytest.raises(ValueError, match=r"'b' only has \['p3'\], 'a' only has \['p2'\]"):
        compare_methods([a, b], np.random.default_rng(0), reference="a")
    with pytest.raises(ValueError, match="reference method 'zzz' not among"):
        compare_methods([a, b], np.random.default_rng(0), reference="zzz")
    with pytest.raises(ValueError, match=r"duplicate method names.*\['a'\]"):
        compare_methods([a, a], np.random.default_rng(0))
