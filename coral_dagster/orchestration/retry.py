"""Fresh attempts for failed steps on an existing home (``coral retry-failed``, ``coral evolve
--retry-failed``).

``retries.max_attempts`` is part of the experiment id, so raising it means a new home; instead the
retry is recorded in the Dagster instance, where both the ``coral evolve`` driver and
``evolution_sensor`` read it (``facts``): every finished run of the experiment that failed or was
interrupted gets the tag ``coral/retried=true`` and no longer counts as a failed attempt or an
interruption (it still counts for run keys, so the next attempt gets a fresh one).

Genomes already *recorded as failed* (the failure record of a ``score-failure`` run, fitness 0)
are reopened when only the latest generation holds them: that generation has not bred its
successor, so scoring them again changes nothing that was selected. Their failure-record runs get
the same tag, the planner generates and scores them again, and the generation's held-out
evaluation and report (made from the old scores) are made again. A failure record of a genome
that an earlier generation holds is kept: that generation's successor was selected from it.
"""

from __future__ import annotations

from dataclasses import dataclass

from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from coral_dagster.domain.planner import Step, generation_index, task_name
from coral_dagster.orchestration.facts import done_steps
from coral_dagster.orchestration.run_tags import (
    FAILED,
    RETRIED,
    TAG_EXPERIMENT,
    TAG_PARTITION,
    TAG_RETRIED,
    TAG_TASK,
)
from coral_dagster.pipeline.records import Population
from coral_dagster.pipeline.store import ArtifactStore


@dataclass(frozen=True)
class RetrySummary:
    """What a retry released: failed or interrupted runs, reopened failure records (genome
    partitions) and failure records kept because an earlier generation holds the genome."""

    runs: tuple[str, ...]
    reopened: tuple[str, ...]
    kept: tuple[str, ...]

    def summary(self) -> str:
        line = (
            f"retry: {len(self.runs)} failed or interrupted run(s) no longer count as attempts; "
            f"{len(self.reopened)} genome(s) recorded as failed will be generated and scored again"
        )
        if self.kept:
            line += (
                f"; {len(self.kept)} failure record(s) of earlier generations kept "
                "(their successors were bred from them)"
            )
        return line


def retry_failed_steps(
    instance: DagsterInstance, store: ArtifactStore, experiment_id: str
) -> RetrySummary:
    """Tag the experiment's failed runs and reopenable failure records ``coral/retried``.

    Everything is read (populations verified) before the first tag is written, so a damaged
    artifact stops the retry with its error and nothing half-done."""
    built = sorted(done_steps(instance)[Step.POPULATION])
    latest = generation_index(built[-1]) if built else None
    latest_genomes: set[str] = set()
    earlier_genomes: set[str] = set()
    for gkey in built:
        generation = generation_index(gkey)
        genomes = {g.partition_key for g in store.read_record(Population, generation).genomes}
        (latest_genomes if generation == latest else earlier_genomes).update(genomes)

    runs = [
        record.dagster_run.run_id
        for record in instance.get_run_records(
            filters=RunsFilter(tags={TAG_EXPERIMENT: experiment_id}, statuses=list(FAILED))
        )
        if record.dagster_run.tags.get(TAG_RETRIED) != RETRIED
    ]
    reopened: list[tuple[str, str]] = []  # (failure-record run, genome partition)
    kept: list[str] = []
    for record in instance.get_run_records(
        filters=RunsFilter(
            tags={
                TAG_EXPERIMENT: experiment_id,
                TAG_TASK: task_name(Step.SCORE, records_failure=True),
            },
            statuses=[DagsterRunStatus.SUCCESS],
        )
    ):
        run = record.dagster_run
        partition = run.tags.get(TAG_PARTITION, "")
        if run.tags.get(TAG_RETRIED) == RETRIED or not partition:
            continue
        if partition in latest_genomes and partition not in earlier_genomes:
            reopened.append((run.run_id, partition))
        else:
            kept.append(partition)

    tag = {TAG_RETRIED: RETRIED}
    for run_id in [*runs, *(run_id for run_id, _ in reopened)]:
        instance.add_run_tags(run_id, tag)
    return RetrySummary(runs=tuple(runs), reopened=tuple(p for _, p in reopened), kept=tuple(kept))
