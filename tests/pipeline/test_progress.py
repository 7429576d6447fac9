"""Progress lines of long stages: throttled, the last one always, a linear time estimate."""

from __future__ import annotations

import pytest

from coral_dagster.pipeline.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_lines_are_throttled_and_the_last_one_always_comes():
    clock, lines = Clock(), []
    progress = Progress("generated", 200, lines.append, every_seconds=30, clock=clock)
    clock.now += 10
    progress.update(20)  # 10 s in: too early
    assert lines == []
    clock.now += 20
    progress.update(50)  # 30 s in
    assert lines == ["generated 50/200 samples (25%, 30 s, about 90 s left)"]
    clock.now += 29
    progress.update(80)  # 29 s after the last line
    assert len(lines) == 1
    clock.now += 1
    progress.update(120)
    assert lines[-1] == "generated 120/200 samples (60%, 60 s, about 40 s left)"
    clock.now += 1
    progress.update(200)  # complete: at once, without an estimate
    progress.update(200)  # and only once
    assert lines[-1] == "generated 200/200 samples (100%, 61 s)"
    assert len(lines) == 3


def test_a_count_that_does_not_fit_the_declared_total_fails():
    progress = Progress("scored", 10, [].append, unit="sets")
    with pytest.raises(ValueError, match="total 12 != declared 10"):
        progress.update(3, 12)
    with pytest.raises(ValueError, match=r"done 11 outside 0\.\.10"):
        progress.update(11)
    with pytest.raises(ValueError, match="total must be >= 0"):
        Progress("scored", -1, None)


def test_without_emit_nothing_is_printed_but_counts_are_still_checked():
    progress = Progress("generated", 4, None)
    progress.update(4, 4)
    with pytest.raises(ValueError):
        progress.update(5)


def test_units_of_an_earlier_attempt_are_said_and_left_out_of_the_estimate():
    clock, lines = Clock(), []
    progress = Progress("held-out: generated", 100, lines.append, every_seconds=10, clock=clock)
    clock.now += 50  # loading what an earlier attempt stored
    progress.skip(60)
    assert lines == ["held-out: generated: 60 samples stored by an earlier attempt"]
    clock.now += 10
    progress.update(70)  # 10 in 10 s: 30 left take about 30 s
    assert lines[-1] == "held-out: generated 70/100 samples (70%, 10 s, about 30 s left)"
    with pytest.raises(ValueError, match=r"done 101 outside 0\.\.100"):
        progress.skip(101)
