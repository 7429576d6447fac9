"""The wall-clock seconds of an experiment's runs, read from the Dagster instance."""

from __future__ import annotations

from collections.abc import Collection

from dagster import DagsterInstance, RunsFilter

from coral_dagster.orchestration.run_tags import IN_FLIGHT, TAG_EXPERIMENT, TAG_GENERATION, TAG_STEP
from coral_dagster.pipeline.report import RunTiming


def read_run_timings(
    instance: DagsterInstance, experiment_id: str, exclude_run_ids: Collection[str] = ()
) -> list[RunTiming]:
    """Timings of the runs tagged ``coral/experiment = experiment_id`` (oldest first).

    ``exclude_run_ids``: runs to leave out (the ``evolution_report`` run reading its own
    instance). A run of the experiment without ``coral/step`` or ``coral/generation`` tags is an
    error naming it.
    """
    records = instance.get_run_records(filters=RunsFilter(tags={TAG_EXPERIMENT: experiment_id}))
    timings = []
    for record in sorted(records, key=lambda r: r.create_timestamp):
        run = record.dagster_run
        if run.run_id in exclude_run_ids:
            continue
        step, generation = run.tags.get(TAG_STEP), run.tags.get(TAG_GENERATION)
        if step is None or generation is None or not generation.isdigit():
            raise ValueError(
                f"run {run.run_id} of experiment {experiment_id} lacks a {TAG_STEP!r} tag or an "
                f"integer {TAG_GENERATION!r} tag (tags: {dict(run.tags)})"
            )
        in_flight = run.status in IN_FLIGHT
        if in_flight or record.end_time is None:
            seconds = None
        elif record.start_time is None:
            seconds = 0.0  # ended (canceled, failed) before it started
        else:
            seconds = max(0.0, record.end_time - record.start_time)
        timings.append(
            RunTiming(
                run_id=run.run_id,
                step=step,
                generation=int(generation),
                status=run.status.value,
                in_flight=in_flight,
                seconds=seconds,
            )
        )
    return timings
