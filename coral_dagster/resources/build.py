"""The resources of one CORAL home, for the code location and the ``coral evolve`` driver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from coral_dagster.orchestration.home import (
    artifact_root,
    cache_dir,
    coral_home,
    experiment_config_path,
)
from coral_dagster.resources.artifact_store import ArtifactStoreResource
from coral_dagster.resources.experiment import ExperimentResource
from coral_dagster.resources.model_runtime import ModelRuntimeResource
from coral_dagster.resources.sandbox import SandboxResource


def build_resources(home: Path | None = None, config_path: Path | None = None) -> dict[str, Any]:
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
