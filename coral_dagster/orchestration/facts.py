"""What the planner needs to know, read from a Dagster instance and the artifact store.

``read_planner_input`` reads which steps are done for which partitions (an asset's
materializations, through the step table), the runs of this experiment in flight or failed per
(task, partition), the dynamic partitions that exist (in order), the populations, adapters that
fail their checksum and the early-stopping point. ``plan_next`` (pure, in ``domain.planner``)
decides. Both the sensor and ``coral evolve`` go through here.

A failed run counts as a failed attempt of its partitions only when the step's own code raised
(a ``STEP_FAILURE`` event) and the error is not the environment's (out of disk); a run that was
interrupted (its driver killed, its pod evicted, canceled) is no attempt at all. A batch run (a
partition range) is attributed to each partition of its range that is still not done.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunsFilter,
)

from coral_dagster.domain.config import ExperimentConfig
from coral_dagster.domain.planner import (
    SHARED_PARTITION,
    GenomeSlot,
    PlannerInput,
    Step,
    StepState,
    generation_index,
)
from coral_dagster.domain.stopping import stop_generation
from coral_dagster.orchestration.run_tags import (
    FAILED,
    IN_FLIGHT,
    RANGE_END_TAG,
    RANGE_START_TAG,
    TAG_EXPERIMENT,
    TAG_PARTITION,
    TAG_STEP,
    TAG_TASK,
)
from coral_dagster.orchestration.steps import STEPS
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.population import load_population
from coral_dagster.pipeline.statistics import best_fitness_history, genome_table
from coral_dagster.pipeline.store import ArtifactStore

DAGSTER_PARTITION_TAG = "dagster/partition"  # Dagster's own tag on UI and backfill runs
STEPS_BY_ASSET = {asset: spec for spec in STEPS.values() for asset in spec.assets}
# Step failures that are the machine's, not the step's: no space left / disk quota exceeded.
ENVIRONMENT_ERRORS = re.compile(r"\[Errno (28|122)\]")


def materialized_partitions(instance: DagsterInstance, asset: str) -> frozenset[str]:
    """Partitions of ``asset`` with a materialization ({SHARED_PARTITION} for an unpartitioned
    asset that has one)."""
    key = AssetKey(asset)
    if STEPS_BY_ASSET[asset].partitions is None:
        event = instance.get_latest_materialization_event(key)
        return frozenset({SHARED_PARTITION}) if event is not None else frozenset()
    return frozenset(instance.get_materialized_partitions(key))


def done_steps(instance: DagsterInstance) -> dict[Step, frozenset[str]]:
    """Step -> partitions for which every asset of the step is materialized."""
    return {
        step: frozenset.intersection(*(materialized_partitions(instance, a) for a in spec.assets))
        for step, spec in STEPS.items()
    }


def existing_partitions(instance: DagsterInstance) -> dict[Step, tuple[str, ...]]:
    """Step -> the keys of its dynamic partition set, in the set's order."""
    return {
        step: tuple(instance.get_dynamic_partitions(spec.partitions))
        for step, spec in STEPS.items()
        if spec.partitions is not None
    }


def run_partitions(run: DagsterRun, order: Sequence[str]) -> tuple[str, ...]:
    """The partitions a run covers: its own tag, Dagster's partition tag, or its range (expanded
    over ``order``, the partition set's keys)."""
    single = run.tags.get(TAG_PARTITION) or run.tags.get(DAGSTER_PARTITION_TAG)
    if single:
        return (single,)
    start, end = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
    if start is None or end is None:
        return ()
    if start not in order or end not in order:
        raise ValueError(f"run {run.run_id}: range {start}..{end} is not in its partition set")
    first, last = order.index(start), order.index(end)
    return tuple(order[first : last + 1])


def failure_of(instance: DagsterInstance, run: DagsterRun) -> str | None:
    """Why a failed run counts as a failed attempt (the step's own error), or None when it was
    interrupted: no step raised (driver killed, pod evicted, canceled) or the error was the
    environment's (out of disk)."""
    if run.status is not DagsterRunStatus.FAILURE:
        return None
    for entry in instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE):
        error = entry.dagster_event.step_failure_data.error
        chain, cause = [], error
        while cause is not None:
            chain.append(cause.message)
            cause = cause.cause
        if not any(ENVIRONMENT_ERRORS.search(message) for message in chain):
            return f"run {run.run_id} failed: {error.message.strip().splitlines()[0][:300]}"
    return None


def step_states(
    instance: DagsterInstance,
    experiment_id: str,
    order: Sequence[str] = (),
    done: Mapping[Step, frozenset[str]] | None = None,
) -> dict[tuple[str, str], StepState]:
    """(task, partition) -> in flight / failure count, from this experiment's runs.

    ``order``: the genome partitions in order (to expand batch runs' ranges); ``done``: the
    partitions each step has done, which a failed batch run of that step does not count
    against (they were materialized by it)."""
    failures: dict[tuple[str, str], int] = defaultdict(int)
    finished: dict[tuple[str, str], int] = defaultdict(int)
    in_flight: set[tuple[str, str]] = set()
    last_error: dict[tuple[str, str], str] = {}
    steps = {str(s) for s in Step}
    records = instance.get_run_records(filters=RunsFilter(tags={TAG_EXPERIMENT: experiment_id}))
    for record in records:
        run = record.dagster_run
        task = run.tags.get(TAG_TASK) or run.tags.get(TAG_STEP, "")
        partitions = run_partitions(run, order)
        if run.status in IN_FLIGHT:
            in_flight.update((task, p) for p in partitions)
            continue
        reason = failure_of(instance, run) if run.status in FAILED else None
        step = run.tags.get(TAG_STEP, "")
        step_done = (done or {}).get(Step(step), frozenset()) if step in steps else frozenset()
        for partition in partitions:
            key = (task, partition)
            finished[key] += 1
            if reason and (len(partitions) == 1 or partition not in step_done):
                failures[key] += 1
                last_error.setdefault(key, reason)
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
    done = done_steps(instance)
    existing = existing_partitions(instance)
    populations: dict[int, list[GenomeSlot]] = {}
    adapter_keys: dict[str, str] = {}  # adapter partition -> adapter key
    for gkey in sorted(done[Step.POPULATION]):
        generation = generation_index(gkey)
        slots = []
        for g in load_population(store, generation).genomes:
            slots.append(GenomeSlot(genome=g.partition_key, adapter=g.adapter_partition_key))
            adapter_keys[g.adapter_partition_key] = g.adapter_key
        populations[generation] = slots
    scored = done[Step.SCORE]
    needed_adapters = {
        s.adapter for slots in populations.values() for s in slots if s.genome not in scored
    }
    invalid = frozenset(
        a
        for a in needed_adapters
        if a in done[Step.ADAPTER] and not store.is_valid_dir(layout.adapter_dir(adapter_keys[a]))
    )
    # Early stopping: the first complete generation after which best fitness stopped improving.
    complete = [
        g for g, slots in sorted(populations.items()) if all(s.genome in scored for s in slots)
    ]
    complete = [g for i, g in enumerate(complete) if g == i]  # a contiguous prefix only
    history = best_fitness_history(genome_table(store, upto=complete[-1])) if complete else []
    evolution = config.evolution
    stopped = stop_generation(history[: len(complete)], evolution.patience, evolution.min_delta)
    return PlannerInput(
        generations=evolution.generations,
        max_attempts=config.retries.max_attempts,
        populations=populations,
        done=done,
        steps=step_states(instance, experiment_id, existing.get(Step.GENERATE, ()), done),
        invalid_adapters=invalid,
        stopped_early_after=stopped,
        existing_partitions=existing,
        genomes_per_run=config.execution.genomes_per_run,
    )
