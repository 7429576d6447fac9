"""The `population` asset: the genomes of one generation (partition `gNNNN`)."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue

from coral_dagster.assets.shared import problems
from coral_dagster.domain.planner import Step, generation_index
from coral_dagster.orchestration.integrity import recorded_population
from coral_dagster.orchestration.steps import step_asset
from coral_dagster.pipeline.population import build_population
from coral_dagster.resources import ArtifactStoreResource, ExperimentResource


@step_asset(Step.POPULATION, deps=[problems])
def population(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
) -> MaterializeResult:
    """Generation 0 from the config's seed; generation N from NSGA-II over N-1's scores.

    Made again after its successor was bred (its file was lost or damaged), it must come out
    with the genomes recorded then, or it fails and writes nothing."""
    generation = generation_index(context.partition_key)
    expected = recorded_population(context.instance, generation)
    built = build_population(experiment.inputs(), generation, artifact_store.store(), expected)
    genomes = built.genomes  # duplicates: population_has_unique_genomes
    return MaterializeResult(
        metadata={
            "generation": generation,
            "genome_count": len(genomes),
            "adapter_count": len({g.adapter_key for g in genomes}),
            "genome_partitions": MetadataValue.json([g.partition_key for g in genomes]),
            "adapter_partitions": MetadataValue.json([g.adapter_partition_key for g in genomes]),
        }
    )
