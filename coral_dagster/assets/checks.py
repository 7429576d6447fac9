"""Asset checks: scores in [0, 1], adapter files match their checksums, no duplicate genomes."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from coral_dagster.assets.adapters import adapters
from coral_dagster.assets.genomes import test_scores
from coral_dagster.assets.population import population
from coral_dagster.domain.planner import generation_index
from coral_dagster.resources import ArtifactStoreResource
from coral_dagster.stages import adapter_dir, load_population, load_scores
from coral_dagster.storage import ArtifactCorrupt, ArtifactMissing


@asset_check(asset=test_scores, blocking=True)
def scores_within_unit_interval(
    context: AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> AssetCheckResult:
    """Every objective and the fitness lie in [0, 1]."""
    scores = load_scores(artifact_store.store(), context.partition_key)
    values = {**scores["objectives"], "fitness": scores["fitness"]}
    outside = {k: v for k, v in values.items() if not 0.0 <= v <= 1.0}
    return AssetCheckResult(passed=not outside, metadata={"outside": str(outside)})


@asset_check(asset=adapters, blocking=True)
def adapter_matches_checksum(
    context: AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> AssetCheckResult:
    """The adapter's files are present and match the checksums in its manifest."""
    try:
        artifact_store.store().verify_dir(adapter_dir(context.partition_key))
    except (ArtifactMissing, ArtifactCorrupt) as err:
        return AssetCheckResult(passed=False, metadata={"error": str(err)})
    return AssetCheckResult(passed=True)


@asset_check(asset=population, blocking=True)
def population_has_unique_genomes(
    context: AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> AssetCheckResult:
    """No genome key appears twice in a generation."""
    records = load_population(artifact_store.store(), generation_index(context.partition_key))
    keys = [r["genome_key"] for r in records]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    return AssetCheckResult(passed=not duplicates, metadata={"duplicates": str(duplicates)})


ALL_CHECKS = [scores_within_unit_interval, adapter_matches_checksum, population_has_unique_genomes]
