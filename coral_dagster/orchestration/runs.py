"""Turning a planned step into a Dagster run: tags, run config, the sensor's ``RunRequest``, and
the liveness of the ``coral evolve`` drivers that own in-process runs.

Every run is a run of the step's job (``STEPS[step].job``) with the step's assets selected, and
carries the tags ``coral/experiment``, ``coral/step``, ``coral/task``, ``coral/run-key``,
``coral/generation`` plus the placement tags of the step's compute kind; a single-partition run
carries ``coral/partition``, a batch Dagster's partition-range tags over its first and last
partition (and ``coral/batch-size``).
"""

from __future__ import annotations

import json
import os
import socket
from typing import Any

from dagster import AssetKey, DagsterInstance, RunRequest, RunsFilter

from coral_dagster.domain.planner import SHARED_PARTITION, Step, StepRequest
from coral_dagster.orchestration.home import LOCATION_NAME
from coral_dagster.orchestration.placement import run_tags_for
from coral_dagster.orchestration.run_tags import (
    IN_FLIGHT,
    RANGE_END_TAG,
    RANGE_START_TAG,
    REPOSITORY_TAG,
    TAG_BATCH,
    TAG_DRIVER,
    TAG_EXPERIMENT,
    TAG_GENERATION,
    TAG_PARTITION,
    TAG_RUN_KEY,
    TAG_STEP,
    TAG_TASK,
)
from coral_dagster.orchestration.steps import STEPS

REPOSITORY_LABEL = f"__repository__@{LOCATION_NAME}"

# In-process runs of `coral evolve` log to the instance (the UI shows everything, tracebacks
# included); the console gets critical messages only, so the driver's progress lines stay
# readable: the driver prints a failed step's error in one line itself.
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def step_tags(request: StepRequest, experiment_id: str) -> dict[str, str]:
    tags = {
        TAG_EXPERIMENT: experiment_id,
        TAG_STEP: str(request.step),
        TAG_TASK: request.task,
        TAG_RUN_KEY: request.run_key,
        TAG_GENERATION: str(request.generation),
    }
    if len(request.partitions) == 1:
        tags[TAG_PARTITION] = request.partition_key
    else:
        tags[RANGE_START_TAG] = request.partitions[0]
        tags[RANGE_END_TAG] = request.partitions[-1]
        tags[TAG_BATCH] = str(len(request.partitions))
    for key, value in run_tags_for(STEPS[request.step].compute).items():
        tags[key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return tags


def step_run_config(request: StepRequest) -> dict[str, Any]:
    """A failure record passes its reason to the score asset's config."""
    if not request.records_failure:
        return {}
    (asset,) = STEPS[Step.SCORE].assets
    return {"ops": {asset: {"config": {"failed_reason": request.reason}}}}


def partition_of(request: StepRequest) -> str | None:
    """The run's partition key; None for the shared step and for batches (tagged ranges)."""
    if len(request.partitions) > 1 or request.partitions[0] == SHARED_PARTITION:
        return None
    return request.partitions[0]


def asset_selection(step: Step) -> list[AssetKey]:
    return [AssetKey(a) for a in STEPS[step].assets]


def run_request_for(request: StepRequest, experiment_id: str) -> RunRequest:
    """The sensor's run request for a planned step (its run key dedupes across ticks)."""
    return RunRequest(
        run_key=request.run_key,
        job_name=STEPS[request.step].job,
        asset_selection=asset_selection(request.step),
        partition_key=partition_of(request),
        tags=step_tags(request, experiment_id),
        run_config=step_run_config(request),
    )


def runs_in_flight(instance: DagsterInstance, experiment_id: str) -> dict[str, int]:
    """Task -> number of this experiment's runs queued or running, most first."""
    counts: dict[str, int] = {}
    records = instance.get_run_records(
        filters=RunsFilter(tags={TAG_EXPERIMENT: experiment_id}, statuses=list(IN_FLIGHT))
    )
    for record in records:
        tags = record.dagster_run.tags
        task = tags.get(TAG_TASK) or tags.get(TAG_STEP) or "other"
        counts[task] = counts.get(task, 0) + 1
    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


def describe_runs(counts: dict[str, int]) -> str:
    """``3 runs (generate x2, adapter x1)``."""
    total = sum(counts.values())
    parts = ", ".join(f"{task} x{n}" for task, n in counts.items())
    return f"{total} run{'s' if total != 1 else ''} ({parts})"


def describe_in_flight(counts: dict[str, int]) -> str:
    """``3 runs in flight (generate x2, adapter x1)``."""
    runs, parts = describe_runs(counts).split(" (", 1)
    return f"{runs} in flight ({parts}"


def in_process_tags() -> dict[str, str]:
    """Tags of a run `coral evolve` executes in its own process: the driver (for liveness) and
    the repository label, so the UI's job pages list the run under its job."""
    return {TAG_DRIVER: driver_tag(), REPOSITORY_TAG: REPOSITORY_LABEL}


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
