"""Per-generation status of an experiment (``coral status``), from the statistics table.

For each generation: genomes done / failed / pending, adapters first needed here and the slots
that reused one (the adapter cache hit rate of ``pipeline.statistics``), best and mean fitness,
and whether its report is materialized in the Dagster instance.
"""

from __future__ import annotations

from typing import Any

from dagster import DagsterInstance

from coral_dagster.domain.planner import Step, generation_key
from coral_dagster.orchestration.facts import done_steps
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.statistics import as_float, generation_table, genome_table
from coral_dagster.pipeline.store import ArtifactStore


def experiment_status(instance: DagsterInstance, store: ArtifactStore) -> list[dict[str, Any]]:
    """One row per stored generation; the last row also counts training executions."""
    reports = done_steps(instance)[Step.REPORT]
    rows = [
        {
            "generation": int(row.generation),
            "partition": generation_key(int(row.generation)),
            "genomes": int(row.genomes),
            "done": int(row.scored - row.failed),
            "failed": int(row.failed),
            "pending": int(row.pending),
            "adapters_new": int(row.adapters_new),
            "reused_slots": int(row.reused_slots),
            "cache_hit_rate": float(row.hit_rate),
            "best_fitness": as_float(row.best_fitness),
            "mean_fitness": as_float(row.mean_fitness),
            "report": generation_key(int(row.generation)) in reports,
        }
        for row in generation_table(genome_table(store)).itertuples()
    ]
    if rows:
        rows[-1]["training_executions"] = len(store.read_lines(layout.TRAINING_LOG))
    return rows
