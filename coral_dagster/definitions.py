"""The CORAL code location: one `Definitions` for `dagster dev`, `dagster asset` and the CLI.

`defs` is built for `CORAL_HOME` (default `./.coral`); `coral evolve` builds its own for the
home it drives with `build_defs(home)`. The executor follows `CORAL_EXECUTION_MODE` (`local`
in-process by default, `k8s` on Kubernetes).
"""

from __future__ import annotations

from pathlib import Path

from dagster import Definitions

from coral_dagster.assets import ALL_ASSETS, ALL_CHECKS
from coral_dagster.orchestration.jobs import ALL_JOBS
from coral_dagster.orchestration.placement import execution_mode, executor_for_mode
from coral_dagster.resources import build_resources
from coral_dagster.sensors import evolution_sensor


def build_defs(home: Path | None = None, config_path: Path | None = None) -> Definitions:
    """The definitions with resources for ``home`` (``CORAL_HOME`` when None)."""
    return Definitions(
        assets=ALL_ASSETS,
        asset_checks=ALL_CHECKS,
        jobs=ALL_JOBS,
        sensors=[evolution_sensor],
        resources=build_resources(home, config_path),
        executor=executor_for_mode(execution_mode()),
    )


defs = build_defs()
