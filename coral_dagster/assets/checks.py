"""Asset checks: scores in [0, 1], adapter files match their checksums, no duplicate genomes.

Each check is a plain function of the store and the partition (``*_result``), wrapped by a
blocking ``@asset_check`` that reads the partition from its context.
"""

from dagster import AssetCheckExecutionContext, AssetCheckResult, asset_check

from coral_dagster.assets.adapters import adapters
from coral_dagster.assets.genomes import validation_scores
from coral_dagster.assets.population import population
from coral_dagster.domain.planner import generation_index
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.population import load_population
from coral_dagster.pipeline.records import Scores
from coral_dagster.pipeline.store import ArtifactCorrupt, ArtifactMissing, ArtifactStore
from coral_dagster.resources import ArtifactStoreResource


def scores_result(store: ArtifactStore, genome_key: str) -> AssetCheckResult:
    """The stored scores are intact and every objective and the fitness lie in [0, 1]."""
    try:
        scores = store.read_record(Scores, genome_key)
    except (ArtifactMissing, ArtifactCorrupt) as err:
        return AssetCheckResult(passed=False, metadata={"error": str(err)})
    values = {**scores.objectives, "fitness": scores.fitness}
    outside = {k: v for k, v in values.items() if not 0.0 <= v <= 1.0}
    return AssetCheckResult(passed=not outside, metadata={"outside": str(outside)})


def adapter_result(store: ArtifactStore, adapter_key: str) -> AssetCheckResult:
    """The adapter's files are present and match the checksums in its manifest."""
    try:
        store.verify_dir(layout.adapter_dir(adapter_key))
    except (ArtifactMissing, ArtifactCorrupt) as err:
        return AssetCheckResult(passed=False, metadata={"error": str(err)})
    return AssetCheckResult(passed=True)


def population_result(store: ArtifactStore, generation: int) -> AssetCheckResult:
    """No genome key appears twice in a generation."""
    keys = load_population(store, generation).genome_keys
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    return AssetCheckResult(passed=not duplicates, metadata={"duplicates": str(duplicates)})


@asset_check(asset=validation_scores, blocking=True)
def scores_within_unit_interval(
    context: AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> AssetCheckResult:
    """Every objective and the fitness lie in [0, 1] (a stored file that does not is corrupt)."""
    return scores_result(artifact_store.store(), context.partition_key)


@asset_check(asset=adapters, blocking=True)
def adapter_matches_checksum(
    context: AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> AssetCheckResult:
    """The adapter's files are present and match the checksums in its manifest."""
    return adapter_result(artifact_store.store(), context.partition_key)


@asset_check(asset=population, blocking=True)
def population_has_unique_genomes(
    context: AssetCheckExecutionContext, artifact_store: ArtifactStoreResource
) -> AssetCheckResult:
    """No genome key appears twice in a generation."""
    store = artifact_store.store()
    return population_result(store, generation_index(context.partition_key))


ALL_CHECKS = [scores_within_unit_interval, adapter_matches_checksum, population_has_unique_genomes]
