"""Shared fixtures for platform tests: a tiny-random experiment config and a finished evolution."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from platform_helpers import write_config


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One converted-model cache for the whole session (CORAL_CACHE_DIR is honoured too)."""
    return Path(os.environ.get("CORAL_TEST_MODEL_CACHE") or tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="session")
def cache_env(model_cache: Path) -> Iterator[None]:
    """``CORAL_CACHE_DIR`` pointing at the session's model cache, for the whole session."""
    patch = pytest.MonkeyPatch()
    patch.setenv("CORAL_CACHE_DIR", str(model_cache))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def finished_home(tmp_path_factory, model_cache, cache_env) -> Path:
    """A home whose tiny-random evolution ran to the end through `coral evolve`'s driver."""
    from platform_helpers import evolve

    from coral_dagster.orchestration.home import prepare_home

    root = tmp_path_factory.mktemp("finished")
    config = write_config(root / "tiny.yaml")
    home = prepare_home(config, root / "home")
    lines: list[str] = []
    evolve(home, lines)
    (root / "driver.log").write_text("\n".join(lines))
    return home.path


@pytest.fixture
def copied_home(finished_home: Path, tmp_path: Path) -> Path:
    """A copy of the finished home that a test may change (the session's home stays as is)."""
    import shutil

    target = tmp_path / "home"
    shutil.copytree(finished_home, target, ignore=shutil.ignore_patterns("*.lock"))
    return target
