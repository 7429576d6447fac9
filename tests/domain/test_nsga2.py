import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coral_dagster.domain.config import OBJECTIVES
from coral_dagster.domain.nsga2 import (
    crowding_distance,
    dominates,
    non_dominated_sort,
    pareto_front_indices,
    rank_and_crowding,
    tournament_select,
)


@st.composite
def objective_matrices(draw, max_points=14):
    """Points with scores on a coarse grid, so ties and duplicates are common."""
    n = draw(st.integers(1, max_points))
    m = draw(st.integers(1, 4))
    cells = draw(
        st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=n * m, max_size=n * m)
    )
    return np.asarray(cells).reshape(n, m)


@settings(max_examples=200, deadline=None)
@given(values=objective_matrices())
def test_fronts_partition_and_front_zero_is_exactly_the_non_dominated_set(values):
    fronts = non_dominated_sort(values)
    flat = [i for front in fronts for i in front]
    assert sorted(flat) == list(range(len(values)))
    brute = [
        i
        for i in range(len(values))
        if not any(dominates(values[j], values[i]) for j in range(len(values)))
    ]
    assert fronts[0] == brute


@settings(max_examples=200, deadline=None)
@given(values=objective_matrices())
def test_each_later_front_member_is_dominated_by_the_previous_front(values):
    fronts = non_dominated_sort(values)
    for previous, front in itertools.pairwise(fronts):
        for i in front:
            assert any(dominates(values[j], values[i]) for j in previous)
    for front in fronts:  # and nobody within a front dominates a peer
        for i in front:
            assert not any(dominates(values[j], values[i]) for j in front)


@settings(max_examples=200, deadline=None)
@given(values=objective_matrices())
def test_boundary_points_have_infinite_crowding_distance(values):
    for front in non_dominated_sort(values):
        distance = crowding_distance(values, front)
        assert len(distance) == len(front)
        assert (distance >= 0).all()
        sub = values[front]
        for o in range(values.shape[1]):
            for extreme in (sub[:, o].min(), sub[:, o].max()):
                at_extreme = np.flatnonzero(sub[:, o] == extreme)
                assert np.isinf(distance[at_extreme]).any()


@settings(max_examples=200, deadline=None)
@given(
    values=objective_matrices(),
    seed=st.integers(0, 2**32 - 1),
    tournament=st.integers(1, 5),
    data=st.data(),
)
def test_tournament_selection_never_returns_duplicates(values, seed, tournament, data):
    rank, crowding = rank_and_crowding(values)
    count = data.draw(st.integers(0, len(values)))
    chosen = tournament_select(rank, crowding, count, tournament, np.random.default_rng(seed))
    assert len(chosen) == count
    assert len(set(chosen)) == count
    assert all(0 <= i < len(values) for i in chosen)


def test_tournament_of_everyone_picks_in_crowded_order():
    values = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.4, 0.4]])
    rank, crowding = rank_and_crowding(values)
    assert rank.tolist() == [2, 0, 0, 0, 1]
    chosen = tournament_select(rank, crowding, 5, 5, np.random.default_rng(0))
    assert chosen[-2:] == [4, 0]
    assert sorted(chosen[:3]) == [1, 2, 3]
    assert chosen[:2] == [1, 3]  # the two boundary points (infinite crowding) first


def test_interior_crowding_distance_formula():
    values = np.array([[0.0, 1.0], [0.25, 0.75], [0.5, 0.5], [1.0, 0.0]])
    distance = crowding_distance(values, [0, 1, 2, 3])
    assert math.isinf(distance[0]) and math.isinf(distance[3])
    assert distance[1] == pytest.approx(0.5 / 1.0 + 0.5 / 1.0)
    assert distance[2] == pytest.approx(0.75 + 0.75)


def test_selecting_more_than_available_is_an_error():
    rank, crowding = rank_and_crowding(np.array([[0.1], [0.2]]))
    with pytest.raises(ValueError, match="3 distinct"):
        tournament_select(rank, crowding, 3, 2, np.random.default_rng(0))


def test_pareto_front_indices_on_objective_maps():
    def score(**kw):
        return {o: kw.get(o, 0.0) for o in OBJECTIVES}

    objectives = [score(bugfix=1.0), score(syntax=1.0), score(bugfix=0.5), score(bugfix=1.0)]
    assert pareto_front_indices(objectives) == [0, 1, 3]
    assert pareto_front_indices([]) == []
    with pytest.raises(ValueError, match=r"objectives\[1\].*'style'"):
        pareto_front_indices([score(), {o: 0.0 for o in OBJECTIVES if o != "style"}])
