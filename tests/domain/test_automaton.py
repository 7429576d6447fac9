import numpy as np
import pytest
from domain_helpers import seed_from_cells

from coral_dagster.domain.automaton import neighbour_counts, rule_tables, run_automaton
from coral_dagster.domain.genome import CASeed

BLOCK = [(3, 3), (3, 4), (4, 3), (4, 4)]
BLINKER = [(3, 2), (3, 3), (3, 4)]
GLIDER = [(0, 1), (1, 2), (2, 0), (2, 1), (2, 2)]


def test_history_shape_dtype_and_first_frame():
    seed = seed_from_cells(BLINKER, 8, "B3/S23", 5)
    history = run_automaton(seed)
    assert history.shape == (6, 8, 8)
    assert history.dtype == np.uint8
    assert np.array_equal(history[0], np.asarray(seed.grid))


def test_rule_tables_follow_rule_string():
    birth, survival = rule_tables("B36/S23")
    assert np.flatnonzero(birth).tolist() == [3, 6]
    assert np.flatnonzero(survival).tolist() == [2, 3]


def test_neighbour_counts_wrap_around_the_torus():
    grid = np.zeros((5, 5), dtype=np.uint8)
    grid[0, 0] = 1
    counts = neighbour_counts(grid)
    for r, c in [(4, 4), (4, 0), (4, 1), (0, 4), (0, 1), (1, 4), (1, 0), (1, 1)]:
        assert counts[r, c] == 1
    assert counts[0, 0] == 0
    assert counts.sum() == 8


def test_block_is_a_still_life_under_life():
    history = run_automaton(seed_from_cells(BLOCK, 8, "B3/S23", 6))
    assert all(np.array_equal(frame, history[0]) for frame in history)


def test_blinker_oscillates_with_period_two_even_across_the_edge():
    for offset in (0, 6):  # offset 6 puts the blinker across the wrap-around edge
        cells = [(r, c + offset) for r, c in BLINKER]
        history = run_automaton(seed_from_cells(cells, 8, "B3/S23", 4))
        assert not np.array_equal(history[0], history[1])
        assert np.array_equal(history[0], history[2])
        assert np.array_equal(history[1], history[3])
        assert history[1].sum() == 3


def test_glider_comes_back_shifted_on_the_torus():
    history = run_automaton(seed_from_cells(GLIDER, 8, "B3/S23", 32))
    assert np.array_equal(history[4], np.roll(history[0], (1, 1), axis=(0, 1)))
    assert np.array_equal(history[32], history[0])  # 8 diagonal moves wrap an 8x8 torus


def test_empty_survival_set_kills_every_live_cell():
    rng = np.random.default_rng(0)
    grid = (rng.random((6, 6)) < 0.5).astype(int)
    history = run_automaton(CASeed(grid=grid.tolist(), rule="B/S", steps=3))
    assert history[1:].sum() == 0


def test_bad_rule_is_rejected_with_its_name():
    with pytest.raises(ValueError, match="B9/S23"):
        CASeed(grid=((0, 1), (1, 0)), rule="B9/S23", steps=1)
