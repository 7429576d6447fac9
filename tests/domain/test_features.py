import math

import numpy as np
import pytest
from domain_helpers import seed_from_cells
from hypothesis import given, settings
from hypothesis import strategies as st

from coral_dagster.domain.automaton import run_automaton
from coral_dagster.domain.features import (
    CAFeatures,
    block_entropy,
    extract_features,
    lag_similarity,
)
from coral_dagster.domain.genome import CASeed

BLOCK = [(3, 3), (3, 4), (4, 3), (4, 4)]
BLINKER = [(3, 2), (3, 3), (3, 4)]


def features_of(cells, rule="B3/S23", steps=12, size=8):
    return extract_features(run_automaton(seed_from_cells(cells, size, rule, steps)))


def test_still_life_block():
    f = features_of(BLOCK)
    assert f.intensity == 0.0
    assert f.convergence == 1.0
    assert f.periodicity == 1.0  # a fixed point is a cycle of period 1
    assert 0.0 < f.complexity < 0.5


def test_blinker_has_full_periodicity_and_no_convergence():
    f = features_of(BLINKER)
    assert f.periodicity == 1.0
    assert lag_similarity(run_automaton(seed_from_cells(BLINKER, 8, "B3/S23", 12)), 1) < 0.5
    assert f.intensity == pytest.approx(4 / 64)  # 2 cells die, 2 are born each step
    assert f.convergence == 0.0


def test_dying_activity_converges():
    rng = np.random.default_rng(1)
    grid = (rng.random((8, 8)) < 0.5).astype(int)
    f = extract_features(run_automaton(CASeed(grid=grid.tolist(), rule="B/S", steps=10)))
    assert f.convergence == 1.0
    assert f.intensity == pytest.approx(grid.mean() / 10)


def test_empty_grid_is_a_quiet_fixed_point():
    f = features_of([])
    assert f == CAFeatures(complexity=0.0, intensity=0.0, periodicity=1.0, convergence=1.0)


def test_block_entropy_of_known_frames():
    empty = np.zeros((1, 4, 4), dtype=np.uint8)
    assert block_entropy(empty)[0] == 0.0
    single = empty.copy()
    single[0, 1, 1] = 1  # 4 windows see the cell at 4 different corners, 12 see nothing
    expected = -(12 / 16) * math.log2(12 / 16) - 4 * (1 / 16) * math.log2(1 / 16)
    assert block_entropy(single)[0] == pytest.approx(expected)


def test_chaotic_rule_is_more_intense_than_still_life():
    rng = np.random.default_rng(3)
    grid = (rng.random((12, 12)) < 0.5).astype(int)
    chaotic = extract_features(run_automaton(CASeed(grid=grid.tolist(), rule="B2/S", steps=20)))
    still = features_of(BLOCK, size=12, steps=20)
    assert chaotic.intensity > still.intensity
    assert chaotic.complexity > still.complexity
    assert chaotic.periodicity < still.periodicity


def test_bad_history_is_rejected():
    with pytest.raises(ValueError, match="shape"):
        extract_features(np.zeros((1, 4, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="0 or 1"):
        extract_features(np.full((3, 4, 4), 2, dtype=np.uint8))
    with pytest.raises(ValueError, match="intensity"):
        CAFeatures(complexity=0.5, intensity=1.5, periodicity=0.0, convergence=0.0)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(3, 10),
    steps=st.integers(1, 20),
    rule=st.sampled_from(["B3/S23", "B36/S23", "B2/S", "B1357/S1357", "B/S", "B012345678/S"]),
)
def test_features_are_in_unit_interval(seed, size, steps, rule):
    rng = np.random.default_rng(seed)
    grid = (rng.random((size, size)) < rng.random()).astype(int)
    f = extract_features(run_automaton(CASeed(grid=grid.tolist(), rule=rule, steps=steps)))
    for value in f.to_dict().values():
        assert 0.0 <= value <= 1.0
