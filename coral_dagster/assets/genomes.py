"""Genome-keyed assets: `generated_code` (GPU) and `validation_scores` (CPU, sandboxed).

The genome -> adapter link lives in the genome spec (store) and in the planner, not in `deps`:
declaring `deps=[adapters]` here would make Dagster map adapter partitions to genome partitions
by identity, which is wrong for two different dynamic partition sets.
"""

from dagster import AssetExecutionContext, Config, MaterializeResult, MetadataValue

from coral_dagster.assets.shared import base_model, problems
from coral_dagster.domain.planner import Step
from coral_dagster.orchestration.steps import step_asset
from coral_dagster.pipeline.generation import generate_code
from coral_dagster.pipeline.records import GeneratedCode, GenomeSpec
from coral_dagster.pipeline.scoring import failed_scores, score_generated
from coral_dagster.resources import (
    ArtifactStoreResource,
    ExperimentResource,
    ModelRuntimeResource,
    SandboxResource,
)


@step_asset(Step.GENERATE, deps=[base_model, problems])
def generated_code(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
    model_runtime: ModelRuntimeResource,
) -> MaterializeResult:
    """One patch per validation problem, generated with the genome's adapter and cheap knobs."""
    key = context.partition_key
    store = artifact_store.store()
    spec = store.read_record(GenomeSpec, key)
    inputs = experiment.inputs()
    model = inputs.config.model
    generator = model_runtime.generator(
        model_runtime.resolve(model.base_model), model.device, model.dtype
    )
    generated = generate_code(store, spec.record, inputs, generator, artifact_store.adapter_cache)
    path = store.write_record(generated, key)
    outputs = generated.outputs
    return MaterializeResult(
        metadata={
            "adapter_key": spec.adapter_key,
            "generation": spec.generation,
            "knobs": MetadataValue.json(spec.record.knobs.to_dict()),
            "problem_count": len(outputs),
            "programs_extracted": sum(o.program is not None for o in outputs),
            "new_tokens": sum(o.new_tokens for o in outputs),
            "seconds": generated.seconds,
            "path": MetadataValue.path(str(path)),
        }
    )


class ScoreConfig(Config):
    """`failed_reason` set: record the genome as failed (fitness 0) instead of evaluating."""

    failed_reason: str = ""


@step_asset(Step.SCORE, deps=[generated_code])
def validation_scores(
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
        generated = store.read_record(GeneratedCode, key)
        evaluator = sandbox.evaluator(inputs.problem_set, inputs.config.sandbox)
        scores = score_generated(generated, inputs.config.weights, evaluator)
    path = store.write_record(scores, key)
    return MaterializeResult(
        metadata={
            **{name: float(value) for name, value in scores.objectives.items()},
            "fitness": float(scores.fitness),
            "tests_passed": scores.passed,
            "tests_total": scores.total,
            "failed": scores.failed,
            "reason": scores.reason,
            "path": MetadataValue.path(str(path)),
        }
    )
