"""Glue between the pure planner and a Dagster instance: read facts, turn steps into runs.

``read_planner_input`` reads what the instance knows (materialized partitions, runs in flight or
failed, dynamic partitions) plus the populations in the artifact store; ``plan_next`` (pure)
decides; ``run_request_for`` and ``execute_step`` launch a step through the sensor or
synchronously in-process. Both the sensor and ``coral evolve`` go through here.
"""

from __future__ import annotations

import json
import os
import socket
from collections import defaultdict
from typing import Any

from dagster import AssetKey, DagsterInstance, RunRequest, RunsFilter

from coral_dagster.domain.config import ExperimentConfig
from coral_dagster.domain.planner import (
    ADAPTER_PARTITIONS,
    GENERATION_PARTITIONS,
    GENOME_PARTITIONS,
    SHARED_PARTITION,
    STEP_ASSETS,
    GenomeSlot,
    PlannerInput,
    StepRequest,
    StepState,
    generation_index,
)
from coral_dagster.domain.stopping import stop_generation
from coral_dagster.jobs import STEP_JOBS
from coral_dagster.placement import run_tags_for
from coral_dagster.run_tags import (
    FAILED,
    IN_FLIGHT,
    TAG_DRIVER,
    TAG_EXPERIMENT,
    TAG_GENERATION,
    TAG_PARTITION,
    TAG_RUN_KEY,
    TAG_STEP,
)
from coral_dagster.stages import adapter_dir, best_fitness_history, load_population
from coral_dagster.storage import ArtifactStore

PARTITIONED = {
    "population": GENERATION_PARTITIONS,
    "adapters": ADAPTER_PARTITIONS,
    "generated_code": GENOME_PARTITIONS,
    "test_scores": GENOME_PARTITIONS,
    "heldout_evaluation": GENERATION_PARTITIONS,
    "evolution_report": GENERATION_PARTITIONS,
}
UNPARTITIONED = ("problems", "base_model")
GPU_STEPS = frozenset({"adapter", "genome", "heldout"})


def materialized_partitions(instance: DagsterInstance) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for name in PARTITIONED:
        out[name] = frozenset(instance.get_materialized_partitions(AssetKey(name)))
    for name in UNPARTITIONED:
        event = instance.get_latest_materialization_event(AssetKey(name))
        out[name] = frozenset({SHARED_PARTITION}) if event is not None else frozenset()
    return out


def step_states(instance: DagsterInstance, experiment_id: str) -> dict[tuple[str, str], StepState]:
    """(step, partition) -> in flight / failure count, from this experiment's runs."""
    failures: dict[tuple[str, str], int] = defaultdict(int)
    finished: dict[tuple[str, str], int] = defaultdict(int)
    in_flight: set[tuple[str, str]] = set()
    last_error: dict[tuple[str, str], str] = {}
    records = instance.get_run_records(filters=RunsFilter(tags={TAG_EXPERIMENT: experiment_id}))
    for record in records:
        run = record.dagster_run
        # Backfill and UI runs carry Dagster's partition tag instead of ours.
        partition = run.tags.get(TAG_PARTITION) or run.tags.get("dagster/partition", "")
        key = (run.tags.get(TAG_STEP, ""), partition)
        if run.status in IN_FLIGHT:
            in_flight.add(key)
            continue
        finished[key] += 1
        if run.status in FAILED:
            failures[key] += 1
            last_error.setdefault(key, f"run {run.run_id} {run.status.value.lower()}")
    return {
        k: StepState(
            in_flight=k in in_flight,
            failures=failures[k],
            finished=finished[k],
            last_error=last_error.get(k, ""),
        )
        for k in set(finished) | in_flight
    }


def read_planner_input(
    instance: DagsterInstance, store: ArtifactStore, config: ExperimentConfig, experiment_id: str
) -> PlannerInput:
    """Everything the planner needs, read from the instance and the artifact store."""
    materialized = materialized_partitions(instance)
    populations: dict[int, list[GenomeSlot]] = {}
    for gkey in sorted(materialized["population"]):
        generation = generation_index(gkey)
        populations[generation] = [
            GenomeSlot(genome_key=r["genome_key"], adapter_key=r["adapter_key"])
            for r in load_population(store, generation)
        ]
    scored = materialized["test_scores"]
    needed_adapters = {
        s.adapter_key for slots in populations.values() for s in slots if s.genome_key not in scored
    }
    invalid = frozenset(
        a
        for a in needed_adapters
        if a in materialized["adapters"] and not store.is_valid_dir(adapter_dir(a))
    )
    # Early stopping: the first complete generation after which best fitness stopped improving.
    complete = [
        g for g, slots in sorted(populations.items()) if all(s.genome_key in scored for s in slots)
    ]
    complete = [g for i, g in enumerate(complete) if g == i]  # a contiguous prefix only
    stopped = stop_generation(
        best_fitness_history(store, complete), config.evolution.patience, config.evolution.min_delta
    )
    existing = {
        name: frozenset(instance.get_dynamic_partitions(name))
        for name in (ADAPTER_PARTITIONS, GENOME_PARTITIONS, GENERATION_PARTITIONS)
    }
    return PlannerInput(
        generations=config.evolution.generations,
        max_attempts=config.retries.max_attempts,
        populations=populations,
        materialized=materialized,
        steps=step_states(instance, experiment_id),
        invalid_adapters=invalid,
        stopped_early_after=stopped,
        existing_partitions=existing,
    )


def step_tags(request: StepRequest, experiment_id: str) -> dict[str, str]:
    tags = {
        TAG_EXPERIMENT: experiment_id,
        TAG_STEP: request.step,
        TAG_PARTITION: request.partition_key,
        TAG_RUN_KEY: request.run_key,
        TAG_GENERATION: str(request.generation),
    }
    for key, value in run_tags_for("gpu" if request.step in GPU_STEPS else "cpu").items():
        tags[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return tags


def step_run_config(request: StepRequest) -> dict[str, Any]:
    if request.step == "score_failed":
        return {"ops": {"test_scores": {"config": {"failed_reason": request.reason}}}}
    return {}


# In-process runs of `coral evolve` log to the instance (the UI shows everything); the console
# gets warnings and errors only, so the driver's progress lines stay readable.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_request_for(request: StepRequest, experiment_id: str) -> RunRequest:
    """The sensor's run request for a planned step (its run key dedupes across ticks)."""
    partition = None if request.partition_key == SHARED_PARTITION else request.partition_key
    return RunRequest(
        run_key=request.run_key,
        job_name=STEP_JOBS[request.step],
        asset_selection=[AssetKey(a) for a in STEP_ASSETS[request.step]],
        partition_key=partition,
        tags=step_tags(request, experiment_id),
        run_config=step_run_config(request),
    )


def driver_tag() -> str:
    """``host:pid:start`` of this process (start time from /proc, to survive PID reuse)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def _process_start(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19]
    except FileNotFoundError:
        return ""


def driver_alive(tag: str) -> bool:
    host, pid, start = tag.split(":")
    if host != socket.gethostname():
        return True  # cannot tell for another machine: leave it to run monitoring
    return _process_start(int(pid)) == start


def fail_orphaned_runs(instance: DagsterInstance, experiment_id: str) -> list[str]:
    """Mark in-flight runs whose ``coral evolve`` driver process died (e.g. SIGKILL) as failed."""
    orphaned = []
    records = instance.get_run_records(
        filters=RunsFilter(tags={TAG_EXPERIMENT: experiment_id}, statuses=list(IN_FLIGHT))
    )
    for record in records:
        run = record.dagster_run
        tag = run.tags.get(TAG_DRIVER)
        if tag and not driver_alive(tag):
            instance.report_run_failed(run, message=f"driver {tag} is gone (killed); resuming")
            orphaned.append(run.run_id)
    return orphaned
