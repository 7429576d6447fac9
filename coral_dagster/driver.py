"""``coral evolve``'s engine: the planner, executed synchronously against a local Dagster instance.

Each planned step becomes one in-process Dagster run (``materialize``) recorded in the
instance under ``$CORAL_HOME/dagster``, so ``dagster dev`` afterwards shows every run and
materialization. Re-running after the evolution finished does no work (every partition is
materialized); re-running after a kill resumes: runs left ``STARTED`` by a dead driver are marked
failed and their steps are planned again, while everything materialized stays.

Two drivers on one home cooperate: each step runs under an inter-process lock and is re-planned
after the lock is taken, so a step another driver just finished is skipped.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import AssetKey, DagsterInstance, materialize

from coral_dagster.assets import ALL_ASSETS, ALL_CHECKS
from coral_dagster.context import experiment_id
from coral_dagster.domain.config import ExperimentConfig, load_config
from coral_dagster.domain.planner import (
    SHARED_PARTITION,
    STEP_ASSETS,
    Plan,
    StepRequest,
    generation_key,
    plan_next,
)
from coral_dagster.home import artifact_root, cache_dir, dagster_home
from coral_dagster.orchestration import (
    QUIET_CONSOLE,
    TAG_DRIVER,
    driver_tag,
    fail_orphaned_runs,
    read_planner_input,
    step_run_config,
    step_tags,
)
from coral_dagster.resources import build_resources
from coral_dagster.storage import ArtifactStore

Echo = Callable[[str], None]


class EvolutionFailed(RuntimeError):
    """A shared stage failed: the evolution cannot go on."""


class HomeMismatch(ValueError):
    """The home already holds a different experiment."""


@dataclass
class Home:
    """An experiment's folder: config copy, Dagster instance, artifact store, caches."""

    path: Path

    @property
    def config_path(self) -> Path:
        return self.path / "experiment.yaml"

    def config(self) -> ExperimentConfig:
        return load_config(self.config_path)

    def store(self) -> ArtifactStore:
        return ArtifactStore(artifact_root(self.path))

    def instance(self) -> DagsterInstance:
        """The persistent SQLite instance in ``<home>/dagster`` (sets ``DAGSTER_HOME``)."""
        dh = dagster_home(self.path)
        dh.mkdir(parents=True, exist_ok=True)
        yaml_path = dh / "dagster.yaml"
        if not yaml_path.exists():
            yaml_path.write_text("telemetry:\n  enabled: false\n")
        os.environ["DAGSTER_HOME"] = str(dh)
        return DagsterInstance.get()

    def resources(self) -> dict[str, Any]:
        return build_resources(self.path, self.config_path)


def prepare_home(config_file: Path, home_dir: Path) -> Home:
    """Record ``config_file`` as the home's experiment (a different one there is an error)."""
    home = Home(home_dir.resolve())
    config = load_config(config_file)
    home.path.mkdir(parents=True, exist_ok=True)
    os.environ["CORAL_HOME"] = str(home.path)
    if home.config_path.exists():
        recorded = home.config()
        if experiment_id(recorded) != experiment_id(config):
            raise HomeMismatch(
                f"{home.path} already holds experiment {recorded.name!r} "
                f"({experiment_id(recorded)}); {config_file} is a different config "
                f"({experiment_id(config)}): use another --home"
            )
    else:
        tmp = home.config_path.with_suffix(".tmp")
        shutil.copyfile(config_file, tmp)
        tmp.rename(home.config_path)
    return home


def _add_partitions(home: Home, instance: DagsterInstance, plan: Plan) -> None:
    """Add the plan's dynamic partitions; serialised, since two drivers may plan the same ones
    and the instance rejects a duplicate insert."""
    if not plan.add_partitions:
        return
    with home.store().lock("dynamic-partitions", cache_dir(home.path) / "locks"):
        for name, keys in plan.add_partitions.items():
            existing = set(instance.get_dynamic_partitions(name))
            new = [k for k in keys if k not in existing]
            if new:
                instance.add_dynamic_partitions(name, new)


def execute_step(home: Home, instance: DagsterInstance, request: StepRequest, eid: str) -> bool:
    """Run one planned step in-process; returns whether the run succeeded."""
    partition = None if request.partition_key == SHARED_PARTITION else request.partition_key
    result = materialize(
        [*ALL_ASSETS, *ALL_CHECKS],
        selection=[AssetKey(a) for a in STEP_ASSETS[request.step]],
        partition_key=partition,
        instance=instance,
        resources=home.resources(),
        tags={**step_tags(request, eid), TAG_DRIVER: driver_tag()},
        run_config={**step_run_config(request), **QUIET_CONSOLE},
        raise_on_error=False,
    )
    return result.success


def plan_once(home: Home, instance: DagsterInstance, config: ExperimentConfig, eid: str) -> Plan:
    plan = plan_next(read_planner_input(instance, home.store(), config, eid))
    _add_partitions(home, instance, plan)
    return plan


def run_evolution(home: Home, echo: Echo = print, poll_seconds: float = 2.0) -> Plan:
    """Drive the evolution to the end; returns the final plan (``finished``)."""
    config = home.config()
    eid = experiment_id(config)
    instance = home.instance()
    lock_dir = cache_dir(home.path) / "locks"
    store = home.store()
    started = time.perf_counter()
    while True:
        for run_id in fail_orphaned_runs(instance, eid):
            echo(f"marked run {run_id} of a dead driver as failed; its step is planned again")
        plan = plan_once(home, instance, config, eid)
        if plan.error:
            raise EvolutionFailed(plan.error)
        if plan.finished:
            echo(
                f"evolution finished: generation {generation_key(plan.generation)} "
                f"({time.perf_counter() - started:.0f}s)"
            )
            return plan
        if not plan.requests:
            time.sleep(poll_seconds)  # another driver's runs are in flight
            continue
        for request in plan.requests:
            with store.lock(f"step-{request.step}-{request.partition_key}", lock_dir):
                current = plan_once(home, instance, config, eid)
                if request.run_key not in {r.run_key for r in current.requests}:
                    continue  # another driver did it while we waited
                progress = " ".join(f"{k} {d}/{t}" for k, (d, t) in plan.progress.items())
                echo(
                    f"[{generation_key(request.generation)}] {progress} | {request.step} "
                    f"{request.partition_key[:12]} (attempt {request.attempt}) ..."
                )
                t0 = time.perf_counter()
                ok = execute_step(home, instance, request, eid)
                echo(
                    f"[{generation_key(request.generation)}] {request.step} "
                    f"{request.partition_key[:12]} {'done' if ok else 'FAILED'} "
                    f"({time.perf_counter() - t0:.1f}s)"
                )
