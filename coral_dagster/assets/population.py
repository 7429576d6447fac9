"""The `population` asset: the genomes of one generation (partition `gNNNN`).

A genome carried over from an earlier generation (an elite) is not generated or scored again, so
its `generated_code` and `validation_scores` partitions get an observation naming every
generation it appears in: the UI shows it with the partition's metadata.
"""

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    MaterializeResult,
    MetadataValue,
)

from coral_dagster.assets.keys import generation_or_fail
from coral_dagster.assets.metadata import generations_text, genes_text, knobs_text
from coral_dagster.assets.shared import problems
from coral_dagster.domain.planner import Step
from coral_dagster.orchestration.integrity import recorded_population
from coral_dagster.orchestration.steps import STEPS, step_asset
from coral_dagster.pipeline.population import build_population, genome_generations
from coral_dagster.resources import ArtifactStoreResource, ExperimentResource


def _genomes_table(genomes, appears_in) -> str:
    rows = ["| genome | generations | genes | knobs |", "|---|---|---|---|"]
    for g in genomes:
        name = g.partition_key[: -len(g.genome_key)] + g.genome_key[:8]
        generations = generations_text(appears_in[g.genome_key])
        rows.append(f"| {name} | {generations} | {genes_text(g.genes)} | {knobs_text(g.knobs)} |")
    return "\n".join(rows)


@step_asset(Step.POPULATION, deps=[problems])
def population(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
) -> MaterializeResult:
    """Generation 0 from the config's seed; generation N from NSGA-II over N-1's scores.

    Made again after its successor was bred (its file was lost or damaged), it must come out
    with the genomes recorded then, or it fails and writes nothing."""
    generation = generation_or_fail(context.partition_key)
    store = artifact_store.store()
    expected = recorded_population(context.instance, generation)
    built = build_population(experiment.inputs(), generation, store, expected)
    genomes = built.genomes  # duplicates: population_has_unique_genomes
    appears_in = genome_generations(store)
    carried = [g for g in genomes if len(appears_in[g.genome_key]) > 1]
    genome_set = STEPS[Step.GENERATE].partitions
    for g in carried:
        if not context.instance.has_dynamic_partition(genome_set, g.partition_key):
            continue
        for step in (Step.GENERATE, Step.SCORE):
            for asset in STEPS[step].assets:
                context.log_event(
                    AssetObservation(
                        asset_key=AssetKey(asset),
                        partition=g.partition_key,
                        metadata={"generations": generations_text(appears_in[g.genome_key])},
                    )
                )
    return MaterializeResult(
        metadata={
            "generation": generation,
            "genome_count": len(genomes),
            "adapter_count": len({g.adapter_key for g in genomes}),
            "carried_over": len(carried),
            "genomes": MetadataValue.md(_genomes_table(genomes, appears_in)),
            "genome_partitions": MetadataValue.json([g.partition_key for g in genomes]),
            "adapter_partitions": MetadataValue.json([g.adapter_partition_key for g in genomes]),
        }
    )
