"""Model runtime resource: resolves the base model, keeps one loaded generator per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import ConfigurableResource

from coral_dagster.model.base_model import ResolvedBaseModel, resolve_base_model

if TYPE_CHECKING:  # torch/peft load only in runs that generate (fast start of the others)
    from coral_dagster.model.generation import PatchGenerator


@lru_cache(maxsize=4)
def _resolved(spec: str, cache_dir: str) -> ResolvedBaseModel:
    return resolve_base_model(spec, Path(cache_dir))


_LOADS: list[str] = []  # one entry per base model loaded by this process


@lru_cache(maxsize=2)
def _generator(resolved: ResolvedBaseModel, device: str, dtype: str) -> PatchGenerator:
    from coral_dagster.model.generation import PatchGenerator

    _LOADS.append(resolved.model_id)
    return PatchGenerator(resolved, device=device, dtype=dtype)


def model_loads() -> int:
    """How many times this process loaded a base model for generation (a run reuses the loaded
    model of an earlier run in the same process)."""
    return len(_LOADS)


class ModelRuntimeResource(ConfigurableResource):
    """The base model runtime. `cache_dir` holds converted checkpoints; `device` overrides the
    config's device. The dtype always comes from the experiment config: it enters the adapter
    key."""

    cache_dir: str
    device: str = ""

    def resolve(self, spec: str) -> ResolvedBaseModel:
        return _resolved(spec, self.cache_dir)

    def generator(self, resolved: ResolvedBaseModel, device: str, dtype: str) -> PatchGenerator:
        """One loaded model per (checkpoint, device, dtype) per process; adapters load by name."""
        return _generator(resolved, self.device or device, dtype)

    def cpu_generator(self, resolved: ResolvedBaseModel) -> PatchGenerator:
        """The base model on CPU in float32, whatever ``device`` says: for results that must
        not depend on the machine they are computed on (the injected validation bugs)."""
        return _generator(resolved, "cpu", "float32")
