"""Fixtures of the benchmark tests: a QuixBugs-quirks dataset and evaluators over it."""

from __future__ import annotations

from pathlib import Path

import pytest
from benchmark_helpers import fast_config, quirks_dataset

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.problems import ProblemSet, load_problem_set


@pytest.fixture(scope="session")
def quirks_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return quirks_dataset(tmp_path_factory.mktemp("quirks"))


@pytest.fixture(scope="session")
def quirks(quirks_root: Path) -> ProblemSet:
    return load_problem_set(quirks_root)


@pytest.fixture(scope="session")
def evaluator(quirks: ProblemSet) -> Evaluator:
    """A bwrap evaluator with 1 s per-case timeouts (shared: it caches baselines and lint)."""
    return Evaluator(quirks, fast_config())
