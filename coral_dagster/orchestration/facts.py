"""What the planner needs to know, read from a Dagster instance and the artifact store.

``read_planner_input`` reads which steps are done for which partitions (an asset's
materializations, through the step table), the runs of this experiment in flight or failed per
(task, partition), the dynamic partitions that exist (in order), the populations, adapters that
fail their checksum and the early-stopping point. ``plan_next`` (pure, in ``domain.planner``)
decides. Both the sensor and ``coral evolve`` go through here.

A failed run counts as a failed attempt of its partitions only when the step's own code raised
(a ``STEP_FAILURE`` whose error came from the asset's code: a user-code error or a ``Failure`` it
raised) and the error is not the environment's (out of disk or quota); a run that was
interrupted (its driver killed, its pod evicted or its run worker lost, canceled, interrupted
by a signal, out of disk) is no attempt at all, only an *interruption*. A batch run (a
partition range) is attributed to each partition of its range that is still not done. A run
tagged ``coral/retried`` (``coral retry-failed``) counts neither as an attempt nor as an
interruption.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterEventType,
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRecord,
    RunsFilter,
)

from coral_dagster.domain.config import ExperimentConfig
from coral_dagster.domain.machine_errors import MACHINE_ERROR_TEXT
from coral_dagster.domain.planner import (
    SHARED_PARTITION,
    GenomeSlot,
    PlannerInput,
    Step,
    StepState,
    generation_key,
    task_name,
)
from coral_dagster.domain.stopping import stop_generation
from coral_dagster.orchestration.integrity import StoreHealth, inspect_store
from coral_dagster.orchestration.run_tags import (
    FAILED,
    IN_FLIGHT,
    RANGE_END_TAG,
    RANGE_START_TAG,
    RETRIED,
    TAG_EXPERIMENT,
    TAG_PARTITION,
    TAG_RETRIED,
    TAG_STEP,
    TAG_TASK,
)
from coral_dagster.orchestration.steps import STEPS
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.statistics import best_fitness_history, genome_table
from coral_dagster.pipeline.store import ArtifactStore

DAGSTER_PARTITION_TAG = "dagster/partition"  # Dagster's own tag on UI and backfill runs
STEPS_BY_ASSET = {asset: spec for spec in STEPS.values() for asset in spec.assets}


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


@dataclass(frozen=True)
class RunEnd:
    """How a run that did not succeed ended: ``counted`` when the step's own code raised (a
    failed attempt), else it was interrupted; ``reason``: one line naming the run."""

    counted: bool
    reason: str


def _first_line(text: str) -> str:
    return (text.strip().splitlines() or ["(no message)"])[0][:600]


def _messages(error: Any) -> list[str]:
    """The messages of an error and its causes, outermost first."""
    chain = []
    while error is not None:
        chain.append(error.message)
        error = error.cause
    return chain


def _raised_by_step(data: Any) -> bool:
    """A step failure that the asset's own code raised: a user-code error, or a ``Failure``
    (which carries user failure data). Interrupts (SIGINT, SIGTERM, run termination) and the
    framework's own failures (a step pod that failed its health check, a lost child process)
    are not the step's."""
    source = getattr(data.error_source, "name", "")
    return data.error is not None and (
        data.user_failure_data is not None or source == "USER_CODE_ERROR"
    )


def run_end(instance: DagsterInstance, run: DagsterRun) -> RunEnd | None:
    """How a failed or canceled run ended (None for any other status): a failed attempt when a
    step's own code raised an error that is not the environment's, else an interruption."""
    if run.status is DagsterRunStatus.CANCELED:
        return RunEnd(False, f"run {run.run_id} was canceled")
    if run.status is not DagsterRunStatus.FAILURE:
        return None
    entries = instance.all_logs(
        run.run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}
    )
    interruption = ""
    for entry in entries:
        event = entry.dagster_event
        if event.event_type is DagsterEventType.RUN_FAILURE:
            interruption = interruption or _first_line(event.message or "run failure")
            continue
        data = event.step_failure_data
        messages = _messages(data.error) if data.error is not None else []
        environment = any(MACHINE_ERROR_TEXT.search(m) for m in messages)
        if _raised_by_step(data) and not environment:
            if data.user_failure_data is not None:  # a Failure: its description
                message = data.user_failure_data.description or data.error.message
            else:  # a user-code error: the exception the step's code raised
                message = (data.error.cause or data.error).message
            return RunEnd(True, f"run {run.run_id} failed: {_first_line(message)}")
        culprit = next((m for m in messages if MACHINE_ERROR_TEXT.search(m)), None)
        if culprit is None and getattr(data.error_source, "name", "") == "INTERRUPT":
            culprit = "the step was interrupted (a signal, or the run was terminated)"
        interruption = _first_line(culprit or (messages[0] if messages else "step failure"))
    return RunEnd(False, f"run {run.run_id} was interrupted: {interruption or 'no step failed'}")


def failure_of(instance: DagsterInstance, run: DagsterRun) -> str | None:
    """Why a failed run counts as a failed attempt (the step's own error), or None when it was
    interrupted (or did not fail)."""
    end = run_end(instance, run)
    return end.reason if end is not None and end.counted else None


def experiment_runs(instance: DagsterInstance, experiment_id: str) -> list[RunRecord]:
    """This experiment's run records, newest first."""
    return list(instance.get_run_records(filters=RunsFilter(tags={TAG_EXPERIMENT: experiment_id})))


def step_states(
    instance: DagsterInstance,
    experiment_id: str,
    order: Sequence[str] = (),
    done: Mapping[Step, frozenset[str]] | None = None,
    records: Sequence[RunRecord] | None = None,
) -> dict[tuple[str, str], StepState]:
    """(task, partition) -> in flight / failures / interruptions, from this experiment's runs.

    ``order``: the genome partitions in order (to expand batch runs' ranges); ``done``: the
    partitions each step has done, which a failed batch run of that step does not count
    against (they were materialized by it). Runs tagged ``coral/retried``, and failed runs older
    than a successful run of the same (task, partition) (a step made again later, such as a
    retrained damaged adapter, starts its count afresh), count only towards ``finished`` (so
    that the next attempt gets a fresh run key). ``records``: the experiment's runs as read
    earlier (``experiment_runs``; read now when None)."""
    failures: dict[tuple[str, str], int] = defaultdict(int)
    interruptions: dict[tuple[str, str], int] = defaultdict(int)
    finished: dict[tuple[str, str], int] = defaultdict(int)
    in_flight: set[tuple[str, str]] = set()
    last_error: dict[tuple[str, str], str] = {}
    last_interruption: dict[tuple[str, str], str] = {}
    steps = {str(s) for s in Step}
    succeeded: set[tuple[str, str]] = set()  # a later run of the key succeeded
    if records is None:
        records = experiment_runs(instance, experiment_id)
    for record in records:  # newest first
        run = record.dagster_run
        task = run.tags.get(TAG_TASK) or run.tags.get(TAG_STEP, "")
        partitions = run_partitions(run, order)
        if run.status in IN_FLIGHT:
            in_flight.update((task, p) for p in partitions)
            continue
        if run.status is DagsterRunStatus.SUCCESS:
            succeeded.update((task, p) for p in partitions)
        retried = run.tags.get(TAG_RETRIED) == RETRIED
        end = run_end(instance, run) if run.status in FAILED and not retried else None
        step = run.tags.get(TAG_STEP, "")
        step_done = (done or {}).get(Step(step), frozenset()) if step in steps else frozenset()
        for partition in partitions:
            key = (task, partition)
            finished[key] += 1
            if end is None or key in succeeded or (len(partitions) > 1 and partition in step_done):
                continue
            if end.counted:
                failures[key] += 1
                last_error.setdefault(key, end.reason)
            else:
                interruptions[key] += 1
                last_interruption.setdefault(key, end.reason)
    return {
        k: StepState(
            in_flight=k in in_flight,
            failures=failures[k],
            finished=finished[k],
            last_error=last_error.get(k, ""),
            interruptions=interruptions[k],
            last_interruption=last_interruption.get(k, ""),
        )
        for k in set(finished) | in_flight
    }


def reopened_scores(instance: DagsterInstance, experiment_id: str) -> frozenset[str]:
    """Genome partitions whose latest scores are a failure record that ``coral retry-failed``
    reopened: not done any more, the genome is generated and scored again."""
    records = instance.get_run_records(
        filters=RunsFilter(
            tags={
                TAG_EXPERIMENT: experiment_id,
                TAG_TASK: task_name(Step.SCORE, records_failure=True),
                TAG_RETRIED: RETRIED,
            }
        )
    )
    runs = {r.dagster_run.run_id: r.dagster_run.tags.get(TAG_PARTITION) for r in records}
    (asset,) = STEPS[Step.SCORE].assets
    reopened = set()
    for partition in {p for p in runs.values() if p}:
        latest = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition]), limit=1
        ).records
        if latest and latest[0].run_id in runs:
            reopened.add(partition)
    return frozenset(reopened)


def stale_summaries(
    instance: DagsterInstance, generation: int, genomes: Sequence[str]
) -> dict[Step, frozenset[str]]:
    """The held-out evaluation and report of ``generation`` when they were made before its
    population, one of its genomes' scores (or, for the report, the held-out evaluation) was
    materialized again: a retried or repaired genome changes what they summarize."""
    gkey = generation_key(generation)

    def latest(step: Step, partitions: set[str]) -> dict[str, int]:
        (asset,) = STEPS[step].assets
        return dict(
            instance.get_latest_storage_id_by_partition(
                AssetKey(asset), DagsterEventType.ASSET_MATERIALIZATION, partitions
            )
        )

    inputs = max(
        [*latest(Step.POPULATION, {gkey}).values(), *latest(Step.SCORE, set(genomes)).values()],
        default=-1,
    )
    heldout = latest(Step.HELDOUT, {gkey}).get(gkey)
    report = latest(Step.REPORT, {gkey}).get(gkey)
    stale: dict[Step, frozenset[str]] = {}
    if heldout is not None and heldout < inputs:
        stale[Step.HELDOUT] = frozenset({gkey})
    if report is not None and report < max(inputs, heldout or -1):
        stale[Step.REPORT] = frozenset({gkey})
    return stale


def effective_done(
    instance: DagsterInstance, store: ArtifactStore, experiment_id: str
) -> tuple[dict[Step, frozenset[str]], StoreHealth]:
    """What is done for the planner: materialized, minus reopened failure records, minus
    partitions whose artifact is damaged (``integrity``), minus held-out evaluations and
    reports older than what they summarize; and the store's health."""
    done = done_steps(instance)
    done[Step.SCORE] = done[Step.SCORE] - reopened_scores(instance, experiment_id)
    health = inspect_store(instance, store, done)
    done = {  # a damaged adapter stays done: the planner retrains it as an invalid adapter
        step: partitions if step is Step.ADAPTER else partitions - health.redo(step)
        for step, partitions in done.items()
    }
    if health.populations:
        latest = max(health.populations)
        genomes = [g.partition_key for g in health.populations[latest].genomes]
        for step, stale in stale_summaries(instance, latest, genomes).items():
            done[step] = done[step] - stale
    return done, health


def read_planner_input(
    instance: DagsterInstance, store: ArtifactStore, config: ExperimentConfig, experiment_id: str
) -> PlannerInput:
    """Everything the planner needs, read from the instance and the artifact store.

    The runs are read before the materializations: a run that is no longer in flight when the
    runs are read has stored its materializations already (they come before its run ends), so
    every partition is seen in flight or done. Read the other way round, a run that ends
    between the two reads is seen as neither, and its partitions are planned again (a genome
    generated twice by the daemon, on a loaded machine)."""
    runs = experiment_runs(instance, experiment_id)
    done, health = effective_done(instance, store, experiment_id)
    existing = existing_partitions(instance)
    blocked = health.blocked
    populations: dict[int, list[GenomeSlot]] = {}
    adapter_keys: dict[str, str] = {}  # adapter partition -> adapter key
    for generation, population in sorted(health.populations.items()):
        if generation_key(generation) not in done[Step.POPULATION]:
            continue
        slots = []
        for g in population.genomes:
            slots.append(GenomeSlot(genome=g.partition_key, adapter=g.adapter_partition_key))
            adapter_keys[g.adapter_partition_key] = g.adapter_key
        populations[generation] = slots
    scored = done[Step.SCORE]
    needed_adapters = {
        s.adapter for slots in populations.values() for s in slots if s.genome not in scored
    }
    invalid = health.redo(Step.ADAPTER) | frozenset(
        a
        for a in needed_adapters
        if a in done[Step.ADAPTER] and not store.is_valid_dir(layout.adapter_dir(adapter_keys[a]))
    )
    # Early stopping: the first complete generation after which best fitness stopped improving.
    complete = [
        g for g, slots in sorted(populations.items()) if all(s.genome in scored for s in slots)
    ]
    complete = [g for i, g in enumerate(complete) if g == i]  # a contiguous prefix only
    history = (
        best_fitness_history(genome_table(store, upto=complete[-1], with_training=False))
        if complete and blocked is None
        else []
    )
    evolution = config.evolution
    stopped = stop_generation(history[: len(complete)], evolution.patience, evolution.min_delta)
    return PlannerInput(
        generations=evolution.generations,
        max_attempts=config.retries.max_attempts,
        populations=populations,
        done=done,
        steps=step_states(instance, experiment_id, existing.get(Step.GENERATE, ()), done, runs),
        invalid_adapters=invalid,
        stopped_early_after=stopped,
        existing_partitions=existing,
        genomes_per_run=config.execution.genomes_per_run,
        max_interruptions=config.execution.max_interruptions,
        blocked=None if blocked is None else blocked.line(),
    )
