"""The CORAL code location: one ``Definitions`` for ``dagster dev`` and ``dagster asset``.

Paths come from ``CORAL_HOME`` (default ``./.coral``): see ``coral_dagster.home``. The executor
follows ``CORAL_EXECUTION_MODE`` (``local`` in-process by default, ``k8s`` on Kubernetes).
"""

from __future__ import annotations

from dagster import Definitions

from coral_dagster.assets import ALL_ASSETS, ALL_CHECKS
from coral_dagster.home import artifact_root, cache_dir, coral_home, experiment_config_path
from coral_dagster.jobs import ALL_JOBS
from coral_dagster.placement import execution_mode, executor_for_mode
from coral_dagster.resources import (
    ArtifactStoreResource,
    ExperimentResource,
    ModelRuntimeResource,
    SandboxResource,
)
from coral_dagster.sensors import evolution_sensor


def build_resources(home=None, config_path=None) -> dict:
    """Resources for a CORAL home (``CORAL_HOME`` by default)."""
    home = home or coral_home()
    cache = cache_dir(home)
    return {
        "experiment": ExperimentResource(
            config_path=str(config_path or experiment_config_path(home))
        ),
        "artifact_store": ArtifactStoreResource(root=artifact_root(home), local_dir=str(cache)),
        "model_runtime": ModelRuntimeResource(cache_dir=str(cache / "models")),
        "sandbox": SandboxResource(),
    }


defs = Definitions(
    assets=ALL_ASSETS,
    asset_checks=ALL_CHECKS,
    jobs=ALL_JOBS,
    sensors=[evolution_sensor],
    resources=build_resources(),
    executor=executor_for_mode(execution_mode()),
)
