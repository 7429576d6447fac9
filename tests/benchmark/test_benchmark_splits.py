"""Train / validation / test splits: disjoint, non-empty, seeded, validated."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coral_dagster.benchmark.splits import Split, SplitError, split_problems
from coral_dagster.domain.config import SplitConfig

NAMES = [f"problem_{i:02d}" for i in range(12)]


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=3, max_value=60),
    seed=st.integers(min_value=0, max_value=2**32 - 1),
    train=st.floats(min_value=0.01, max_value=0.9),
    validation=st.floats(min_value=0.01, max_value=0.9),
)
def test_seeded_split_is_disjoint_non_empty_and_covers_everything(
    n: int, seed: int, train: float, validation: float
) -> None:
    if train + validation >= 1.0:
        validation = (1.0 - train) / 2
    names = [f"p{i}" for i in range(n)]
    split = split_problems(
        names, SplitConfig(seed=seed, train_fraction=train, validation_fraction=validation)
    )
    parts = [set(split.train), set(split.validation), set(split.test)]
    assert all(parts)
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert parts[0] | parts[1] | parts[2] == set(names)
    assert all(list(p) == sorted(p) for p in (split.train, split.validation, split.test))


def test_seeded_split_depends_on_seed_and_names_not_their_order() -> None:
    config = SplitConfig(seed=3, train_fraction=0.5, validation_fraction=0.25)
    a = split_problems(NAMES, config)
    assert split_problems(list(reversed(NAMES)), config) == a
    assert (len(a.train), len(a.validation), len(a.test)) == (6, 3, 3)
    others = {split_problems(NAMES, config.model_copy(update={"seed": s})) for s in range(8)}
    assert len(others) > 1
    assert a.fingerprint() == split_problems(NAMES, config).fingerprint()
    assert a.fingerprint() != Split(a.validation, a.train, a.test).fingerprint()


def test_seeded_split_needs_three_problems() -> None:
    with pytest.raises(SplitError, match="at least 3 problems"):
        split_problems(["a", "b"], SplitConfig())


def test_explicit_lists_are_used_as_given() -> None:
    config = SplitConfig(
        train=["problem_03", "problem_01"], validation=["problem_02"], test=["problem_00"]
    )
    split = split_problems(NAMES, config)
    assert split == Split(("problem_01", "problem_03"), ("problem_02",), ("problem_00",))


def test_explicit_lists_with_unknown_names_overlaps_or_empty_split_name_the_culprits() -> None:
    config = SplitConfig(
        train=["problem_01", "ghost", "problem_02"],
        validation=["problem_02", "problem_01"],
        test=[],
    )
    with pytest.raises(SplitError) as info:
        split_problems(NAMES, config)
    message = str(info.value)
    assert "benchmark.split.train: unknown problems ['ghost']" in message
    assert "train and validation overlap in ['problem_01', 'problem_02']" in message
    assert "benchmark.split.test: is empty" in message


def test_duplicate_input_names_are_rejected() -> None:
    with pytest.raises(SplitError, match="more than once: \\['a'\\]"):
        split_problems(["a", "a", "b", "c"], SplitConfig())
