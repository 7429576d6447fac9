"""Asset checks of the unbatched assets: adapter files match their checksums, no duplicate
genomes in a population. (The batched genome assets evaluate their checks per partition
inline: see `assets/genomes.py`.) The logic is `pipeline.checks`."""

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from coral_dagster.assets.adapters import adapters
from coral_dagster.assets.keys import content_key_or_fail, generation_or_fail
from coral_dagster.assets.population import population
from coral_dagster.pipeline.checks import CheckOutcome, adapter_check, population_check
from coral_dagster.resources import ArtifactStoreResource


def _result(outcome: CheckOutcome) -> AssetCheckResult:
    return AssetCheckResult(passed=outcome.passed, metadata=outcome.metadata)


@asset_check(asset=adapters, blocking=True)
def adapter_matches_checksum(
    context: AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> AssetCheckResult:
    """The adapter's files are present and match the checksums in its manifest."""
    return _result(
        adapter_check(artifact_store.store(), content_key_or_fail(context.partition_key))
    )


@asset_check(asset=population, blocking=True)
def population_has_unique_genomes(
    context: AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> AssetCheckResult:
    """No genome key appears twice in a generation."""
    generation = generation_or_fail(context.partition_key)
    return _result(population_check(artifact_store.store(), generation))


ALL_CHECKS = [adapter_matches_checksum, population_has_unique_genomes]
