"""``coral evolve``'s engine: the planner, executed synchronously against a local Dagster instance.

Each planned step becomes one in-process run of the step's job (``execute_in_process`` with the
step's assets selected) recorded in the instance under ``$CORAL_HOME/dagster``, so ``dagster
dev`` afterwards shows every run under its job. The ``Definitions`` come from the caller (the
CLI), so this layer never imports the asset definitions. Re-running after the evolution finished
does no work (every partition is materialized); re-running after a kill resumes: runs left
``STARTED`` by a dead driver are marked failed (an interruption, not a failed attempt) and their
steps are planned again, while everything materialized stays.

Two drivers on one home cooperate: each step runs under an inter-process lock and is re-planned
after the lock is taken, so a step another driver just finished is skipped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from dagster import DagsterInstance, Definitions, ExecuteInProcessResult

from coral_dagster.domain.config import ExperimentConfig
from coral_dagster.domain.planner import (
    Plan,
    StepRequest,
    generation_key,
    generation_progress,
    plan_next,
)
from coral_dagster.orchestration.facts import read_planner_input, run_end
from coral_dagster.orchestration.home import Home
from coral_dagster.orchestration.partitions import partition_set_of
from coral_dagster.orchestration.retry import retry_failed_steps
from coral_dagster.orchestration.runs import (
    QUIET_CONSOLE,
    asset_selection,
    fail_orphaned_runs,
    in_process_tags,
    partition_of,
    step_run_config,
    step_tags,
)
from coral_dagster.orchestration.steps import STEPS
from coral_dagster.pipeline.inputs import experiment_id

Echo = Callable[[str], None]


class EvolutionFailed(RuntimeError):
    """A shared stage failed: the evolution cannot go on."""


class EvolutionInterrupted(EvolutionFailed):
    """A step this driver ran was interrupted (not a failed attempt): out of disk, a signal."""


def add_partitions(home: Home, instance: DagsterInstance, plan: Plan) -> None:
    """Add the plan's dynamic partitions; serialised, since two drivers may plan the same ones
    and the instance rejects a duplicate insert."""
    if not plan.add_partitions:
        return
    with home.store().lock("dynamic-partitions", home.lock_dir):
        for step, keys in plan.add_partitions.items():
            name = partition_set_of(step)
            existing = set(instance.get_dynamic_partitions(name))
            new = [k for k in keys if k not in existing]
            if new:
                instance.add_dynamic_partitions(name, new)


def run_step_in_process(
    defs: Definitions, instance: DagsterInstance, request: StepRequest, eid: str
) -> ExecuteInProcessResult:
    """Run one planned step in-process as a run of its job."""
    job = defs.resolve_job_def(STEPS[request.step].job)
    return job.execute_in_process(
        asset_selection=asset_selection(request.step),
        partition_key=partition_of(request),
        instance=instance,
        tags={**step_tags(request, eid), **in_process_tags()},
        run_config={**step_run_config(request), **QUIET_CONSOLE},
        raise_on_error=False,
    )


def execute_step(
    defs: Definitions, instance: DagsterInstance, request: StepRequest, eid: str
) -> bool:
    """Run one planned step in-process as a run of its job; returns whether it succeeded."""
    return run_step_in_process(defs, instance, request, eid).success


def describe(partitions: tuple[str, ...]) -> str:
    """``<first partition>`` or ``<first partition> +n`` for a batch."""
    first = partitions[0] if len(partitions[0]) <= 40 else partitions[0][:40] + "..."
    return first if len(partitions) == 1 else f"{first} +{len(partitions) - 1}"


def describe_progress(progress: dict[str, tuple[int, int]]) -> str:
    """`` | adapters 3/3 patches 4/4 scores 1/4`` (after a step), or nothing before the
    generation's population exists."""
    if not progress:
        return ""
    return " | " + " ".join(f"{stage} {done}/{total}" for stage, (done, total) in progress.items())


def plan_once(home: Home, instance: DagsterInstance, config: ExperimentConfig, eid: str) -> Plan:
    plan = plan_next(read_planner_input(instance, home.store(), config, eid))
    add_partitions(home, instance, plan)
    return plan


def run_evolution(
    home: Home,
    defs: Definitions,
    echo: Echo = print,
    poll_seconds: float = 2.0,
    retry_failed: bool = False,
) -> Plan:
    """Drive the evolution to the end; returns the final plan (``finished``).

    ``retry_failed``: first give failed steps fresh attempts (``orchestration.retry``). A step
    this driver runs that is interrupted rather than failed (out of disk, a signal) stops the
    driver with ``EvolutionInterrupted``: it is not a failed attempt, and the next
    ``coral evolve`` resumes it."""
    config = home.config()
    eid = experiment_id(config)
    instance = home.instance()
    store = home.store()
    started = time.perf_counter()
    if retry_failed:
        for run_id in fail_orphaned_runs(instance, eid):
            echo(f"marked run {run_id} of a dead driver as failed; its step is planned again")
        echo(retry_failed_steps(instance, store, eid).summary())
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
            with store.lock(f"step-{request.run_key.replace(':', '-')}", home.lock_dir):
                current = plan_once(home, instance, config, eid)
                if request.run_key not in {r.run_key for r in current.requests}:
                    continue  # another driver did it while we waited
                label = f"[{generation_key(request.generation)}]"
                what = f"{request.task} {describe(request.partitions)}"
                echo(f"{label} {what} (attempt {request.attempt}) ...")
                t0 = time.perf_counter()
                result = run_step_in_process(defs, instance, request, eid)
                seconds = time.perf_counter() - t0
                run = None if result.success else instance.get_run_by_id(result.run_id)
                end = None if run is None else run_end(instance, run)
                outcome = "done" if end is None else f"FAILED ({end.reason})"
                after = generation_progress(
                    read_planner_input(instance, store, config, eid), request.generation
                )
                echo(f"{label} {what} {outcome} ({seconds:.1f}s)" + describe_progress(after))
                if end is not None and not end.counted:
                    raise EvolutionInterrupted(
                        f"{what}: {end.reason} (not a failed attempt; fix the cause and run "
                        "`coral evolve` again to resume)"
                    )
