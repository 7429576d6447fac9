"""Train / validation / test split of the benchmark problems (always disjoint, never empty).

Two ways, chosen by ``SplitConfig``:

- explicit lists (``train``, ``validation``, ``test``): validated; unknown names, names listed
  twice, overlaps between splits and empty splits are errors naming them. Problems in no list
  are simply unused.
- seeded: the names are sorted, shuffled with ``numpy.random.default_rng(seed)`` and cut into
  ``n_train = round(n * train_fraction)``, ``n_val = round(n * validation_fraction)`` and the
  rest, each clamped so every split holds at least one problem (needs n >= 3).

Each split's names are returned sorted, so the result depends only on the name set and config.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from coral_dagster.domain.config import SplitConfig
from coral_dagster.domain.hashing import content_hash

SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")


class SplitError(ValueError):
    """The split configuration does not fit the problem names; the message names the culprits."""


@dataclass(frozen=True)
class Split:
    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "train": list(self.train),
            "validation": list(self.validation),
            "test": list(self.test),
        }

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the three name lists."""
        return content_hash({"kind": "split", **self.to_dict()})


def _explicit(names: Sequence[str], config: SplitConfig) -> Split:
    known = set(names)
    lists = {s: list(getattr(config, s)) for s in SPLIT_NAMES}
    problems: list[str] = []
    for split, members in lists.items():
        unknown = sorted(set(members) - known)
        if unknown:
            problems.append(f"benchmark.split.{split}: unknown problems {unknown}")
        twice = sorted({m for m in members if members.count(m) > 1})
        if twice:
            problems.append(f"benchmark.split.{split}: listed more than once {twice}")
        if not members:
            problems.append(f"benchmark.split.{split}: is empty")
    for i, a in enumerate(SPLIT_NAMES):
        for b in SPLIT_NAMES[i + 1 :]:
            both = sorted(set(lists[a]) & set(lists[b]))
            if both:
                problems.append(f"benchmark.split: {a} and {b} overlap in {both}")
    if problems:
        raise SplitError("invalid split:\n  " + "\n  ".join(problems))
    return Split(*(tuple(sorted(lists[s])) for s in SPLIT_NAMES))


def _seeded(names: Sequence[str], config: SplitConfig) -> Split:
    ordered = sorted(set(names))
    n = len(ordered)
    if n < 3:
        raise SplitError(f"a seeded split needs at least 3 problems, got {n}: {ordered}")
    n_train = min(max(round(n * config.train_fraction), 1), n - 2)
    n_val = min(max(round(n * config.validation_fraction), 1), n - 1 - n_train)
    order = np.random.default_rng(config.seed).permutation(n)
    shuffled = [ordered[i] for i in order]
    return Split(
        train=tuple(sorted(shuffled[:n_train])),
        validation=tuple(sorted(shuffled[n_train : n_train + n_val])),
        test=tuple(sorted(shuffled[n_train + n_val :])),
    )


def split_problems(names: Sequence[str], config: SplitConfig) -> Split:
    """Split ``names`` per ``config``: explicit lists when given, else a seeded random split."""
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if list(names).count(n) > 1})
        raise SplitError(f"problem names given more than once: {dupes}")
    if config.train is not None:
        return _explicit(names, config)
    return _seeded(names, config)
