"""The ``population`` asset: the genomes of one generation (partition ``gNNNN``)."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from coral_dagster.domain.planner import generation_index
from coral_dagster.partitions import generation_partitions
from coral_dagster.placement import op_tags_for
from coral_dagster.resources import ArtifactStoreResource, ExperimentResource
from coral_dagster.stages import build_population


@asset(
    group_name="coral",
    partitions_def=generation_partitions,
    deps=["problems"],
    op_tags=op_tags_for("cpu"),
)
def population(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
) -> MaterializeResult:
    """Generation 0 from the config's seed; generation N from NSGA-II over N-1's test scores."""
    generation = generation_index(context.partition_key)
    records = build_population(experiment.inputs(), generation, artifact_store.store())
    keys = [r["genome_key"] for r in records]  # duplicates: population_has_unique_genomes
    return MaterializeResult(
        metadata={
            "generation": generation,
            "genomes": len(records),
            "adapters": len({r["adapter_key"] for r in records}),
            "genome_keys": MetadataValue.json(keys),
            "adapter_keys": MetadataValue.json([r["adapter_key"] for r in records]),
        }
    )
