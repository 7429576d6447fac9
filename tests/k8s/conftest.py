"""Placement settings read from a controlled environment (every ``CORAL_*`` variable replaced)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

import pytest

from coral_dagster.orchestration.placement import PlacementSettings


@pytest.fixture
def placement_from_env(monkeypatch) -> Callable[[Mapping[str, str]], PlacementSettings]:
    """``make(env)``: ``PlacementSettings.from_env()`` with exactly ``env`` as ``CORAL_*``."""

    def make(env: Mapping[str, str]) -> PlacementSettings:
        for name in list(os.environ):
            if name.startswith("CORAL_"):
                monkeypatch.delenv(name)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        return PlacementSettings.from_env()

    return make
