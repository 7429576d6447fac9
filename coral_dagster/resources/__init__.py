"""Dagster resources: the experiment config, the artifact store, the model runtime, the sandbox."""

from coral_dagster.resources.artifact_store import ArtifactStoreResource
from coral_dagster.resources.build import build_resources
from coral_dagster.resources.experiment import ExperimentResource
from coral_dagster.resources.model_runtime import ModelRuntimeResource
from coral_dagster.resources.sandbox import SandboxResource

__all__ = [
    "ArtifactStoreResource",
    "ExperimentResource",
    "ModelRuntimeResource",
    "SandboxResource",
    "build_resources",
]
