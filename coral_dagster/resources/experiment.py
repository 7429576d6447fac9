"""The experiment config resource: one validated YAML config and its loaded inputs."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from dagster import ConfigurableResource

from coral_dagster.context import ExperimentInputs, experiment_id, load_inputs
from coral_dagster.domain.config import ExperimentConfig, load_config


@lru_cache(maxsize=8)
def _inputs(path: str, mtime_ns: int) -> ExperimentInputs:
    return load_inputs(load_config(path))


class ExperimentResource(ConfigurableResource):
    """The experiment config file (YAML, validated by ``ExperimentConfig``)."""

    config_path: str

    def config(self) -> ExperimentConfig:
        return self.inputs().config

    def inputs(self) -> ExperimentInputs:
        """Config + problem set + split + key context, cached per file version in the process."""
        path = Path(self.config_path)
        return _inputs(str(path.resolve()), path.stat().st_mtime_ns if path.exists() else 0)

    def experiment_id(self) -> str:
        """Content hash of the full config: tags every run of this experiment."""
        return experiment_id(self.config())
