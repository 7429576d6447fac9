import pytest

from coral_dagster.domain.config import OBJECTIVES, Weights
from coral_dagster.domain.scoring import fitness, genome_objectives, mean_objectives

PERFECT = {o: 1.0 for o in OBJECTIVES}


def test_fitness_is_the_weighted_sum():
    scores = {"bugfix": 0.5, "syntax": 1.0, "style": 0.0, "security": 1.0, "runtime": 0.25}
    expected = 0.6 * 0.5 + 0.1 * 1.0 + 0.1 * 0.0 + 0.1 * 1.0 + 0.1 * 0.25
    assert fitness(scores, Weights()) == pytest.approx(expected)
    assert fitness(PERFECT, Weights()) == pytest.approx(1.0)
    only_bugfix = Weights(bugfix=1.0, syntax=0.0, style=0.0, security=0.0, runtime=0.0)
    assert fitness(scores, only_bugfix) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        ({o: 1.0 for o in OBJECTIVES if o != "security"}, "'security' is missing"),
        ({**PERFECT, "runtime": 1.5}, r"'runtime' must be in \[0, 1\], got 1.5"),
        ({**PERFECT, "style": -0.1}, r"'style' must be in \[0, 1\]"),
        ({**PERFECT, "syntax": float("nan")}, "'syntax' must be in"),
        ({**PERFECT, "bugfix": "1"}, "'bugfix' must be a number"),
        ({**PERFECT, "bugfx": 1.0}, r"unknown objective\(s\) \['bugfx'\]"),
    ],
)
def test_fitness_rejects_bad_objectives_naming_them(scores, message):
    with pytest.raises(ValueError, match=message):
        fitness(scores, Weights())


def test_mean_objectives_over_problems():
    problems = [PERFECT, {o: 0.0 for o in OBJECTIVES}, {**PERFECT, "bugfix": 0.5}]
    means = mean_objectives(problems)
    assert list(means) == list(OBJECTIVES)
    assert means["bugfix"] == pytest.approx(0.5)
    assert means["syntax"] == pytest.approx(2 / 3)


def test_mean_objectives_errors():
    with pytest.raises(ValueError, match="no per-problem scores"):
        mean_objectives([])
    with pytest.raises(ValueError, match=r"objectives\[1\]: objective 'runtime'"):
        mean_objectives([PERFECT, {**PERFECT, "runtime": 2.0}])


def test_genome_objectives_mean_or_best_sample_per_problem():
    zero = {o: 0.0 for o in OBJECTIVES}
    samples = [
        ("a", PERFECT),  # problem a: one sample fixes it, one breaks everything
        ("a", zero),
        ("b", {**PERFECT, "bugfix": 0.25}),  # problem b: two partial samples
        ("b", {**PERFECT, "bugfix": 0.75}),
    ]
    mean = genome_objectives(samples, "mean")
    assert mean["bugfix"] == pytest.approx((0.5 + 0.5) / 2)
    assert mean["syntax"] == pytest.approx((0.5 + 1.0) / 2)
    best = genome_objectives(samples, "best")
    assert best["bugfix"] == pytest.approx((1.0 + 0.75) / 2)
    assert best["syntax"] == mean["syntax"]  # only bugfix takes the best sample
    # problems weigh equally whatever their sample counts, in any order
    assert genome_objectives([("a", PERFECT), ("b", zero), ("b", zero)], "mean")["bugfix"] == 0.5
    interleaved = [samples[i] for i in (2, 0, 3, 1)]
    assert genome_objectives(interleaved, "best") == best
    uneven = [("a", zero), ("b", {**zero, "bugfix": 0.5}), ("a", zero), ("a", PERFECT)]
    assert genome_objectives(uneven, "best")["bugfix"] == pytest.approx((1.0 + 0.5) / 2)


def test_genome_objectives_errors():
    with pytest.raises(ValueError, match="no per-problem scores"):
        genome_objectives([], "best")
    with pytest.raises(ValueError, match="bugfix must be 'mean' or 'best'"):
        genome_objectives([("a", PERFECT)], "max")
