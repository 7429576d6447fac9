"""Genome-keyed assets: `generated_code` (GPU) and `validation_scores` (CPU, sandboxed).

Both are batched: one run covers up to `execution.genomes_per_run` genome partitions (a
partition range), loads the model once and decodes every genome's prompts together, and each
genome partition gets its own materialization, metadata and check evaluation. A genome that
fails inside a batch is not materialized (the others are), and the run fails naming it, so the
planner counts one failed attempt for that genome alone.

The genome -> adapter link lives in the genome spec (store) and in the planner, not in `deps`:
declaring `deps=[adapters]` here would make Dagster map adapter partitions to genome partitions
by identity, which is wrong for two different dynamic partition sets.
"""

from collections.abc import Iterator

from dagster import (
    AssetCheckEvaluation,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    Config,
    Failure,
    MetadataValue,
)

from coral_dagster.assets.keys import content_key_or_fail, unknown
from coral_dagster.assets.metadata import (
    code_entries,
    generations_text,
    genes_text,
    knobs_text,
    score_reason,
    verdicts_markdown,
)
from coral_dagster.assets.provenance import input_tags, version_tags
from coral_dagster.assets.shared import base_model, problems, validation_bugs
from coral_dagster.domain.config import ExecutionConfig
from coral_dagster.domain.hashing import content_hash
from coral_dagster.domain.partition_keys import content_key
from coral_dagster.domain.planner import Step
from coral_dagster.orchestration.steps import batched_step_asset
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.checks import CheckOutcome, generated_check, scores_check
from coral_dagster.pipeline.generation import generate_batch
from coral_dagster.pipeline.population import genome_generations
from coral_dagster.pipeline.records import GeneratedCode, GenomeSpec
from coral_dagster.pipeline.scoring import failed_scores, score_batch
from coral_dagster.pipeline.store import ArtifactCorrupt, ArtifactMissing
from coral_dagster.pipeline.validation_bugs import evaluation_inputs
from coral_dagster.resources import (
    ArtifactStoreResource,
    ExperimentResource,
    ModelRuntimeResource,
    SandboxResource,
)
from coral_dagster.resources.model_runtime import model_loads

PER_RUN = ExecutionConfig().genomes_per_run  # the UI's backfill batches (the planner's: config)


def _evaluation(asset: AssetKey, check: str, partition: str, outcome: CheckOutcome):
    return AssetCheckEvaluation(
        asset_key=asset,
        check_name=check,
        passed=outcome.passed,
        partition=partition,
        metadata=outcome.metadata,
    )


def _fail(failures: dict[str, str], what: str) -> None:
    """Fail the run naming each genome that was not materialized and why."""
    if failures:
        lines = [
            reason if repr(key) in reason else f"{key}: {reason}"
            for key, reason in failures.items()
        ]
        raise Failure(
            description=f"{what} failed for {len(failures)} genome(s): " + "; ".join(lines),
            metadata={"failed_genomes": MetadataValue.json(failures)},
        )


def _specs(store, keys: list[str]) -> tuple[list[tuple[str, GenomeSpec]], dict[str, str]]:
    specs, failures = [], {}
    for partition in keys:
        try:
            specs.append((partition, store.read_record(GenomeSpec, content_key(partition))))
        except ArtifactMissing as err:
            failures[partition] = unknown(partition, "a genome", err)
        except (ArtifactCorrupt, ValueError) as err:
            failures[partition] = str(err)
    return specs, failures


@batched_step_asset(
    Step.GENERATE,
    checks=[("patches_complete", "Patches intact, samples_per_problem per problem.")],
    deps=[base_model, problems, validation_bugs],
    max_partitions_per_run=PER_RUN,
)
def generated_code(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
    model_runtime: ModelRuntimeResource,
) -> Iterator:
    """One patch per validation problem for each genome of the run, generated with the genome's
    adapter and cheap knobs; every genome of the batch is decoded together."""
    store = artifact_store.store()
    inputs = evaluation_inputs(store, experiment.inputs())
    model = inputs.config.model
    specs, failures = _specs(store, list(context.partition_keys))
    ready = []
    for partition, spec in specs:
        try:
            store.local_copy(layout.adapter_dir(spec.adapter_key), artifact_store.adapter_cache)
            ready.append((partition, spec))
        except (ArtifactMissing, ArtifactCorrupt) as err:
            failures[partition] = f"adapter {spec.adapter_key[:12]}: {err}"
    if ready:
        generator = model_runtime.generator(
            model_runtime.resolve(model.base_model), model.device, model.dtype
        )
        batch = generate_batch(
            store,
            [s.record for _, s in ready],
            inputs,
            generator,
            artifact_store.adapter_cache,
            report=context.log.info,
        )
        appears_in = genome_generations(store)
        upstream = input_tags(
            context.instance,
            [(base_model.key, None), (problems.key, None), (validation_bugs.key, None)],
        )
        for (partition, spec), generated in zip(ready, batch, strict=True):
            path = store.write_record(generated, spec.genome_key)
            outcome = generated_check(
                store,
                spec.genome_key,
                len(inputs.validation_names),
                inputs.config.generation.samples_per_problem,
            )
            yield _evaluation(context.asset_key, "patches_complete", partition, outcome)
            if not outcome.passed:
                failures[partition] = f"patches_complete check failed: {outcome.metadata}"
                continue
            outputs = generated.outputs
            code = content_hash([(o.problem_name, o.raw_text, o.program) for o in outputs])
            yield AssetMaterialization(
                asset_key=context.asset_key,
                partition=partition,
                tags=version_tags(code, context.run_id, upstream),
                metadata={
                    "generations": generations_text(
                        appears_in.get(spec.genome_key, (spec.generation,))
                    ),
                    "genes": genes_text(spec.record.genes),
                    "knobs": knobs_text(spec.record.knobs),
                    **{
                        name: MetadataValue.md(text) for name, text in code_entries(outputs).items()
                    },
                    "genome_key": spec.genome_key,
                    "adapter_key": spec.adapter_key,
                    "first_generation": spec.generation,
                    "programs_extracted": sum(o.program is not None for o in outputs),
                    "new_tokens": sum(o.new_tokens for o in outputs),
                    "batch_size": len(ready),
                    "model_loads_in_process": model_loads(),
                    "seconds": generated.seconds,
                    "path": MetadataValue.path(str(path)),
                },
            )
    _fail(failures, "generated_code")


def _genome_description(store, genome_key: str) -> dict[str, str]:
    """The genome's genes and knobs as text."""
    record = store.read_record(GenomeSpec, genome_key).record
    return {"genes": genes_text(record.genes), "knobs": knobs_text(record.knobs)}


class ScoreConfig(Config):
    """`failed_reason` set: record the genome as failed (fitness 0) instead of evaluating."""

    failed_reason: str = ""


@batched_step_asset(
    Step.SCORE,
    checks=[("scores_within_unit_interval", "Every objective and the fitness lie in [0, 1].")],
    deps=[generated_code],
    max_partitions_per_run=PER_RUN,
)
def validation_scores(
    context: AssetExecutionContext,
    config: ScoreConfig,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
    sandbox: SandboxResource,
) -> Iterator:
    """Run the validation problems' tests on each genome's generated programs in the sandbox and
    score five objectives (or record a genome as failed, fitness 0, with the reason)."""
    store = artifact_store.store()
    inputs = evaluation_inputs(store, experiment.inputs())
    keys = list(context.partition_keys)
    failures: dict[str, str] = {}
    if config.failed_reason:
        if len(keys) != 1:
            raise Failure(f"a failure record is one genome's, got {len(keys)} partitions")
        context.log.warning(f"genome {keys[0][:40]} scored as failed: {config.failed_reason}")
        scored = [(keys[0], failed_scores(content_key_or_fail(keys[0]), config.failed_reason))]
    else:
        batch, names = [], []
        for partition in keys:
            try:
                batch.append(store.read_record(GeneratedCode, content_key(partition)))
                names.append(partition)
            except ArtifactMissing as err:
                failures[partition] = unknown(partition, "a genome with generated code", err)
            except (ArtifactCorrupt, ValueError) as err:
                failures[partition] = str(err)
        evaluator = sandbox.evaluator(inputs.problem_set, inputs.config.sandbox)
        config = inputs.config
        scores = score_batch(batch, config.weights, evaluator, config.generation.bugfix)
        scored = list(zip(names, scores, strict=True))
    appears_in = genome_generations(store)
    for partition, scores in scored:
        path = store.write_record(scores, scores.genome_key)
        outcome = scores_check(store, scores.genome_key)
        yield _evaluation(context.asset_key, "scores_within_unit_interval", partition, outcome)
        if not outcome.passed:
            failures[partition] = f"scores_within_unit_interval check failed: {outcome.metadata}"
            continue
        upstream = input_tags(context.instance, [(generated_code.key, partition)])
        yield AssetMaterialization(
            asset_key=context.asset_key,
            partition=partition,
            tags=version_tags(content_hash(scores.to_dict()), context.run_id, upstream),
            metadata={
                "generations": generations_text(appears_in.get(scores.genome_key, ())) or "-",
                **_genome_description(store, scores.genome_key),
                "fitness": float(scores.fitness),
                "tests_passed": scores.passed,
                "tests_total": scores.total,
                "failed": scores.failed,
                "reason": score_reason(scores),
                "verdicts": MetadataValue.md(verdicts_markdown(scores)),
                **{name: float(value) for name, value in scores.objectives.items()},
                "genome_key": scores.genome_key,
                "path": MetadataValue.path(str(path)),
            },
        )
    _fail(failures, "validation_scores")
