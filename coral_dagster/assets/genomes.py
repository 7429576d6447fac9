"""Genome-keyed assets: ``generated_code`` (GPU) and ``test_scores`` (CPU, sandboxed).

The genome -> adapter link lives in the genome spec (store) and in the planner, not in ``deps``:
declaring ``deps=[adapters]`` here would make Dagster map adapter partitions to genome
partitions by identity, which is wrong for two different dynamic partition sets.
"""

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue, asset

from coral_dagster.partitions import genome_partitions
from coral_dagster.placement import op_tags_for
from coral_dagster.resources import (
    ArtifactStoreResource,
    ExperimentResource,
    ModelRuntimeResource,
    SandboxResource,
)
from coral_dagster.stages import (
    failed_scores,
    generate_code,
    generated_path,
    genome_spec_path,
    score_generated,
    scores_path,
)


@asset(
    group_name="coral",
    partitions_def=genome_partitions,
    deps=["base_model", "problems"],
    op_tags=op_tags_for("gpu"),
)
def generated_code(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
    model_runtime: ModelRuntimeResource,
) -> MaterializeResult:
    """One patch per validation problem, generated with the genome's adapter and cheap knobs."""
    key = context.partition_key
    store = artifact_store.store()
    spec = store.read_json(genome_spec_path(key), f"genome spec {key}")
    inputs = experiment.inputs()
    model = inputs.config.model
    generator = model_runtime.generator(
        model_runtime.resolve(model.base_model), model.device, model.dtype
    )
    generated = generate_code(store, spec, inputs, generator, artifact_store.adapter_cache)
    path = store.write_json(generated_path(key), generated)
    outputs = generated["outputs"]
    return MaterializeResult(
        metadata={
            "adapter_key": spec["adapter_key"],
            "generation": spec["generation"],
            "knobs": MetadataValue.json(spec["knobs"]),
            "problems": len(outputs),
            "programs_extracted": sum(o["program"] is not None for o in outputs),
            "new_tokens": sum(o["new_tokens"] for o in outputs),
            "seconds": generated["seconds"],
            "path": MetadataValue.path(str(path)),
        }
    )


class ScoreConfig(Config):
    """``failed_reason`` set: record the genome as failed (fitness 0) instead of evaluating."""

    failed_reason: str = ""


@asset(
    group_name="coral",
    partitions_def=genome_partitions,
    deps=["generated_code"],
    op_tags=op_tags_for("cpu"),
)
def test_scores(
    context: AssetExecutionContext,
    config: ScoreConfig,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
    sandbox: SandboxResource,
) -> MaterializeResult:
    """Run the validation problems' tests on the generated programs; score five objectives."""
    key = context.partition_key
    store = artifact_store.store()
    inputs = experiment.inputs()
    if config.failed_reason:
        scores = failed_scores(key, config.failed_reason)
        context.log.warning(f"genome {key[:12]} scored as failed: {config.failed_reason}")
    else:
        generated = store.read_json(generated_path(key), f"generated code of genome {key}")
        evaluator = sandbox.evaluator(inputs.problem_set, inputs.config.sandbox)
        scores = score_generated(generated, inputs, evaluator)
    path = store.write_json(scores_path(key), scores)
    return MaterializeResult(
        metadata={
            **{name: float(value) for name, value in scores["objectives"].items()},
            "fitness": float(scores["fitness"]),
            "tests_passed": scores["passed"],
            "tests_total": scores["total"],
            "failed": scores["failed"],
            "reason": scores["reason"],
            "path": MetadataValue.path(str(path)),
        }
    )
