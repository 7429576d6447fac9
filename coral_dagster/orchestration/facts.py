"""What the planner needs to know, read from a Dagster instance and the artifact store.

``read_planner_input`` reads which steps are done for which partitions (an asset's
materializations, through the step table), the runs of this experiment in flight or failed per
(task, partition), the dynamic partitions that exist, the populations, adapters that fail their
checksum and the early-stopping point. ``plan_next`` (pure, in ``domain.planner``) decides.
Both the sensor and ``coral evolve`` go through here.
"""

from __future__ import annotations

from collections import defaultdict

from dagster import AssetKey, DagsterInstance, RunsFilter

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


def materialized_partitions(instance: DagsterInstance, asset: str) -> frozenset[str]:
    """Partitions of ``asset`` with a materialization ({SHARED_PARTITION} for an unpartitioned
    asset that has one)."""
    key = AssetKey(asset)
    if STEPS_BY_ASSET[asset].partitions is None:
        event = instance.get_latest_materialization_event(key)
        return frozenset({SHARED_PARTITION}) if event is not None else frozenset()
    return frozenset(instance.get_materialized_partitions(key))


STEPS_BY_ASSET = {asset: spec for spec in STEPS.values() for asset in spec.assets}


def done_steps(instance: DagsterInstance) -> dict[Step, frozenset[str]]:
    """Step -> partitions for which every asset of the step is materialized."""
    done: dict[Step, frozenset[str]] = {}
    for step, spec in STEPS.items():
        sets = [materialized_partitions(instance, a) for a in spec.assets]
        done[step] = frozenset.intersection(*sets)
    return done


def step_states(instance: DagsterInstance, experiment_id: str) -> dict[tuple[str, str], StepState]:
    """(task, partition) -> in flight / failure count, from this experiment's runs."""
    failures: dict[tuple[str, str], int] = defaultdict(int)
    finished: dict[tuple[str, str], int] = defaultdict(int)
    in_flight: set[tuple[str, str]] = set()
    last_error: dict[tuple[str, str], str] = {}
    records = instance.get_run_records(filters=RunsFilter(tags={TAG_EXPERIMENT: experiment_id}))
    for record in records:
        run = record.dagster_run
        # Backfill and UI runs carry Dagster's partition tag instead of ours.
        partition = run.tags.get(TAG_PARTITION) or run.tags.get(DAGSTER_PARTITION_TAG, "")
        key = (run.tags.get(TAG_TASK) or run.tags.get(TAG_STEP, ""), partition)
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


def existing_partitions(instance: DagsterInstance) -> dict[Step, frozenset[str]]:
    """Step -> the keys of its dynamic partition set that exist already."""
    return {
        step: frozenset(instance.get_dynamic_partitions(spec.partitions))
        for step, spec in STEPS.items()
        if spec.partitions is not None
    }


def read_planner_input(
    instance: DagsterInstance, store: ArtifactStore, config: ExperimentConfig, experiment_id: str
) -> PlannerInput:
    """Everything the planner needs, read from the instance and the artifact store."""
    done = done_steps(instance)
    populations: dict[int, list[GenomeSlot]] = {}
    for gkey in sorted(done[Step.POPULATION]):
        generation = generation_index(gkey)
        populations[generation] = [
            GenomeSlot(genome_key=g.genome_key, adapter_key=g.adapter_key)
            for g in load_population(store, generation).genomes
        ]
    scored = done[Step.SCORE]
    needed_adapters = {
        s.adapter_key for slots in populations.values() for s in slots if s.genome_key not in scored
    }
    invalid = frozenset(
        a
        for a in needed_adapters
        if a in done[Step.ADAPTER] and not store.is_valid_dir(layout.adapter_dir(a))
    )
    # Early stopping: the first complete generation after which best fitness stopped improving.
    complete = [
        g for g, slots in sorted(populations.items()) if all(s.genome_key in scored for s in slots)
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
        steps=step_states(instance, experiment_id),
        invalid_adapters=invalid,
        stopped_early_after=stopped,
        existing_partitions=existing_partitions(instance),
    )
