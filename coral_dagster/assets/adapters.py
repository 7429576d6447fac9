"""The ``adapters`` asset: one trained PEFT adapter per adapter key (GPU)."""

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from coral_dagster.domain.genome import HeavyGenes
from coral_dagster.partitions import adapter_partitions
from coral_dagster.placement import op_tags_for
from coral_dagster.resources import ArtifactStoreResource, ExperimentResource, ModelRuntimeResource
from coral_dagster.stages import adapter_dir, adapter_spec_path, ensure_adapter


@asset(
    group_name="coral",
    partitions_def=adapter_partitions,
    deps=["base_model", "problems"],
    op_tags=op_tags_for("gpu"),
)
def adapters(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
    model_runtime: ModelRuntimeResource,
) -> MaterializeResult:
    """Train the adapter of this key on the train split, unless a valid one is already stored."""
    key = context.partition_key
    store = artifact_store.store()
    spec = store.read_json(adapter_spec_path(key), f"adapter spec {key}")
    inputs = experiment.inputs()
    base = model_runtime.resolve(inputs.config.model.base_model)
    result = ensure_adapter(
        store,
        key,
        HeavyGenes.from_dict(spec["genes"]),
        inputs,
        base,
        artifact_store.lock_dir,
        device=model_runtime.device or inputs.config.model.device,
        run_id=context.run_id,
    )
    training = result["training"]
    manifest = store.verify_dir(adapter_dir(key))
    context.log.info(
        f"adapter {key[:12]}: {'cache hit' if result['cached'] else 'trained'} "
        f"({training['steps']} steps, {training['seconds']:.1f}s)"
    )
    return MaterializeResult(
        metadata={
            "cached": result["cached"],
            "genes": MetadataValue.json(spec["genes"]),
            "trainable_params": training["trainable_params"],
            "loss_curve": MetadataValue.json(training["losses"]),
            "final_loss": training["losses"][-1] if training["losses"] else float("nan"),
            "tokens_per_second": training["tokens_per_second"],
            "seconds": training["seconds"],
            "checksums": MetadataValue.json(
                {name: meta["sha256"] for name, meta in manifest["files"].items()}
            ),
            "path": MetadataValue.path(str(store.path(adapter_dir(key)))),
        }
    )
