"""Unpartitioned assets shared by every generation: the problem split and the base model."""

import time

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from coral_dagster.placement import op_tags_for
from coral_dagster.resources import ArtifactStoreResource, ExperimentResource, ModelRuntimeResource
from coral_dagster.stages import bind_experiment


@asset(group_name="coral", op_tags=op_tags_for("cpu"))
def problems(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
) -> MaterializeResult:
    """The benchmark problems split into train / validation / test (disjoint).

    Also binds the artifact store to this experiment (``experiment.json``): a store that holds
    another experiment's generations is an error, never silently continued.
    """
    inputs = experiment.inputs()
    store = artifact_store.store()
    bind_experiment(store, experiment.experiment_id(), inputs.config.name)
    split = inputs.split
    overlap = (
        (set(split.train) & set(split.validation))
        | (set(split.train) & set(split.test))
        | (set(split.validation) & set(split.test))
    )
    if overlap:
        raise ValueError(f"splits overlap on {sorted(overlap)}")
    doc = {
        "dataset": str(inputs.problem_set.root),
        "problem_set_fingerprint": inputs.problem_set.fingerprint(),
        "train": list(split.train),
        "validation": list(inputs.validation_names),
        "test": list(inputs.test_names),
        "key_context": inputs.key_context,
    }
    path = store.write_json(f"problems/{split.fingerprint()}.json", doc)
    return MaterializeResult(
        metadata={
            "problems": len(inputs.problem_set.problems),
            "train": len(split.train),
            "validation": len(inputs.validation_names),
            "test": len(inputs.test_names),
            "validation_problems": MetadataValue.json(list(inputs.validation_names)),
            "path": MetadataValue.path(str(path)),
        }
    )


@asset(group_name="coral", op_tags=op_tags_for("cpu"))
def base_model(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    model_runtime: ModelRuntimeResource,
) -> MaterializeResult:
    """The base model checkpoint, resolved and (for the embedded GGUF) converted once."""
    started = time.perf_counter()
    resolved = model_runtime.resolve(experiment.config().model.base_model)
    return MaterializeResult(
        metadata={
            "spec": resolved.spec,
            "model_id": resolved.model_id,
            "path": MetadataValue.path(str(resolved.path)),
            "seconds": time.perf_counter() - started,
        }
    )
