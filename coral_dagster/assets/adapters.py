"""The `adapters` asset: one trained PEFT adapter per adapter key (GPU)."""

from pathlib import Path

from dagster import AssetExecutionContext, Failure, MaterializeResult, MetadataValue

from coral_dagster.assets.keys import content_key_or_fail, unknown
from coral_dagster.assets.shared import base_model, problems
from coral_dagster.domain.planner import Step
from coral_dagster.orchestration.steps import step_asset
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.adapters import ensure_adapter
from coral_dagster.pipeline.records import AdapterSpec
from coral_dagster.pipeline.store import ArtifactMissing
from coral_dagster.resources import ArtifactStoreResource, ExperimentResource, ModelRuntimeResource


@step_asset(Step.ADAPTER, deps=[base_model, problems])
def adapters(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
    model_runtime: ModelRuntimeResource,
) -> MaterializeResult:
    """Train the adapter of this key on the train split, unless a valid one is already stored."""
    key = content_key_or_fail(context.partition_key)
    store = artifact_store.store()
    try:
        spec = store.read_record(AdapterSpec, key)
    except ArtifactMissing as err:
        raise Failure(
            description=unknown(context.partition_key, "an adapter", err), allow_retries=False
        ) from None
    inputs = experiment.inputs()
    base = model_runtime.resolve(inputs.config.model.base_model)
    result = ensure_adapter(
        store,
        key,
        spec.genes,
        inputs,
        base,
        Path(artifact_store.local_dir),
        device=model_runtime.device or inputs.config.model.device,
        run_id=context.run_id,
    )
    training = result.training
    manifest = store.verify_dir(layout.adapter_dir(key))
    context.log.info(
        f"adapter {key[:12]}: {'cache hit' if result.cached else 'trained'} "
        f"({training.steps} steps, {training.seconds:.1f}s)"
    )
    return MaterializeResult(
        metadata={
            "cached": result.cached,
            "genes": MetadataValue.json(spec.genes.to_dict()),
            "trainable_params": training.trainable_params,
            "loss_curve": MetadataValue.json(list(training.losses)),
            "final_loss": training.losses[-1] if training.losses else float("nan"),
            "ranking_loss_curve": MetadataValue.json(list(training.ranking_losses)),
            "tokens_per_second": training.tokens_per_second,
            "seconds": training.seconds,
            "checksums": MetadataValue.json(
                {name: meta["sha256"] for name, meta in manifest["files"].items()}
            ),
            "path": MetadataValue.path(str(store.path(layout.adapter_dir(key)))),
        }
    )
