"""Dagster backfills of one generation's missing or failed partitions (``coral backfill``).

A backfill targets one partition set at a time: the generation's missing adapters
(``adapters``) and its genomes without scores (``generated_code`` + ``test_scores``). The
daemon of ``dagster dev`` runs them; genome runs whose adapter is still missing fail and can be
backfilled again once the adapters are done. Backfill runs carry the experiment and step tags,
and Dagster's own ``dagster/partition`` tag, so the planner sees them in flight or failed.
"""

from __future__ import annotations

import time

from dagster import AssetKey, DagsterInstance
from dagster._core.definitions.assets.graph.asset_graph import AssetGraph
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id

from coral_dagster.assets import ALL_ASSETS, ALL_CHECKS
from coral_dagster.domain.planner import ADAPTER_PARTITIONS, GENOME_PARTITIONS, generation_key
from coral_dagster.orchestration import materialized_partitions
from coral_dagster.placement import run_tags_for
from coral_dagster.run_tags import TAG_EXPERIMENT, TAG_GENERATION, TAG_STEP
from coral_dagster.stages import load_population, load_scores
from coral_dagster.storage import ArtifactStore


def missing_partitions(
    instance: DagsterInstance, store: ArtifactStore, generation: int
) -> dict[str, list[str]]:
    """Of ``generation``: adapter keys without a materialization, and genome keys without
    scores or scored as failed (fitness 0 after exhausted retries)."""
    materialized = materialized_partitions(instance)
    records = load_population(store, generation)
    adapters = list(
        dict.fromkeys(
            r["adapter_key"] for r in records if r["adapter_key"] not in materialized["adapters"]
        )
    )
    genomes = [
        r["genome_key"]
        for r in records
        if r["genome_key"] not in materialized["test_scores"]
        or load_scores(store, r["genome_key"])["failed"]
    ]
    return {"adapters": adapters, "genomes": genomes}


def launch_generation_backfill(
    instance: DagsterInstance, store: ArtifactStore, generation: int, experiment_id: str
) -> list[tuple[str, list[str], list[str]]]:
    """Add backfills for the generation's missing adapters and unscored genomes.

    Returns ``(backfill_id, asset names, partition keys)`` for each backfill added.
    """
    successor = generation_key(generation + 1)
    if successor in materialized_partitions(instance)["population"]:
        raise ValueError(
            f"generation {generation} already bred {successor}: re-scoring it would change the "
            "scores its successor was selected from; backfill the latest generation instead"
        )
    missing = missing_partitions(instance, store, generation)
    instance.add_dynamic_partitions(ADAPTER_PARTITIONS, missing["adapters"])
    instance.add_dynamic_partitions(GENOME_PARTITIONS, missing["genomes"])
    graph = AssetGraph.from_assets([*ALL_ASSETS, *ALL_CHECKS])
    launched = []
    for step, assets, keys in (
        ("adapter", ["adapters"], missing["adapters"]),
        ("genome", ["generated_code", "test_scores"], missing["genomes"]),
    ):
        if not keys:
            continue
        backfill = PartitionBackfill.from_asset_partitions(
            backfill_id=make_new_backfill_id(),
            asset_graph=graph,
            partition_names=keys,
            asset_selection=[AssetKey(a) for a in assets],
            backfill_timestamp=time.time(),
            tags={
                **run_tags_for("gpu"),
                TAG_EXPERIMENT: experiment_id,
                TAG_STEP: step,
                TAG_GENERATION: str(generation),
                "coral/backfill": "cli",
            },
            dynamic_partitions_store=instance,
            all_partitions=False,
            title=f"coral generation {generation}: {', '.join(assets)}",
            description=None,
            run_config=None,
        )
        instance.add_backfill(backfill)
        launched.append((backfill.backfill_id, assets, keys))
    return launched
