"""Per-generation status of an experiment, read from the Dagster instance and the store.

For each generation: genomes done / failed / pending, adapters trained vs reused and the
cache hit rate, best and mean fitness. An adapter is *reused* by a genome slot when its key was
needed earlier (an elite carried over, or another genome with the same heavy genes):

    hit_rate = reused slots / slots,   reused slots = slots - adapters first needed here
"""

from __future__ import annotations

from typing import Any

from dagster import DagsterInstance

from coral_dagster.domain.planner import generation_index, generation_key
from coral_dagster.orchestration import materialized_partitions
from coral_dagster.stages import TRAINING_LOG, load_population, load_scores
from coral_dagster.storage import ArtifactStore


def experiment_status(instance: DagsterInstance, store: ArtifactStore) -> list[dict[str, Any]]:
    materialized = materialized_partitions(instance)
    scored = materialized["test_scores"]
    seen_adapters: set[str] = set()
    trainings = store.read_lines(TRAINING_LOG)
    rows = []
    for gkey in sorted(materialized["population"], key=generation_index):
        generation = generation_index(gkey)
        records = load_population(store, generation)
        keys = [r["genome_key"] for r in records]
        scores = [load_scores(store, k) for k in keys if k in scored]
        new = {r["adapter_key"] for r in records} - seen_adapters
        seen_adapters |= new
        fits = [s["fitness"] for s in scores]
        rows.append(
            {
                "generation": generation,
                "partition": generation_key(generation),
                "genomes": len(records),
                "done": sum(not s["failed"] for s in scores),
                "failed": sum(s["failed"] for s in scores),
                "pending": len(records) - len(scores),
                "adapters_new": len(new),
                "adapters_trained": len(new & materialized["adapters"]),
                "reused_slots": len(records) - len(new),
                "cache_hit_rate": (len(records) - len(new)) / len(records),
                "best_fitness": max(fits) if fits else None,
                "mean_fitness": sum(fits) / len(fits) if fits else None,
                "report": gkey in materialized["evolution_report"],
            }
        )
    if rows:
        rows[-1]["training_executions"] = len(trainings)
    return rows
