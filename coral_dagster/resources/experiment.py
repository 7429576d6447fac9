"""The experiment config resource: one validated YAML config and its loaded inputs."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from dagster import ConfigurableResource

from coral_dagster.domain.config import ExperimentConfig, load_config
from coral_dagster.pipeline.inputs import ExperimentInputs, experiment_id, load_inputs


@lru_cache(maxsize=8)
def _config(path: str, mtime_ns: int) -> ExperimentConfig:
    return load_config(path)


@lru_cache(maxsize=8)
def _inputs(path: str, mtime_ns: int) -> ExperimentInputs:
    return load_inputs(_config(path, mtime_ns))


class ExperimentResource(ConfigurableResource):
    """The experiment config file (YAML, validated by `ExperimentConfig`)."""

    config_path: str

    def _version(self) -> tuple[str, int]:
        path = Path(self.config_path)
        return str(path.resolve()), path.stat().st_mtime_ns if path.exists() else 0

    def config(self) -> ExperimentConfig:
        """The validated config alone (cheap: no problem set, no model fingerprint)."""
        return _config(*self._version())

    def inputs(self) -> ExperimentInputs:
        """Config + problem set + split + key context, cached per file version in the process."""
        return _inputs(*self._version())

    def experiment_id(self) -> str:
        """Content hash of the full config: tags every run of this experiment."""
        return experiment_id(self.config())
