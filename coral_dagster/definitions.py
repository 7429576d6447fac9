"""The CORAL code location: one ``Definitions`` for ``dagster dev`` and ``dagster asset``.

Paths come from ``CORAL_HOME`` (default ``./.coral``): see ``coral_dagster.home``. The executor
follows ``CORAL_EXECUTION_MODE`` (``local`` in-process by default, ``k8s`` on Kubernetes).
"""

from __future__ import annotations

from dagster import Definitions

from coral_dagster.assets import ALL_ASSETS, ALL_CHECKS
from coral_dagster.jobs import ALL_JOBS
from coral_dagster.placement import execution_mode, executor_for_mode
from coral_dagster.resources import build_resources
from coral_dagster.sensors import evolution_sensor

defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=ALL_JOBS,
    sensors=[evolution_sensor],
    resources=build_resources(),
    executor=executor_for_mode(execution_mode()),
)
