"""Unpartitioned assets shared by every generation: problem split, training corpus, base model
and the injected validation bugs.

Each carries a data version derived from its content, so materializing them again with the same
content (`dagster asset materialize --select problems,base_model`) leaves everything downstream
in sync; only a different split, corpus or model makes it stale.
"""

import time
from collections import Counter
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableMetadataValue,
    TableRecord,
    TableSchema,
)

from coral_dagster.domain.hashing import content_hash
from coral_dagster.domain.planner import Step
from coral_dagster.orchestration.steps import step_asset
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.corpus import corpus_sandbox, ensure_corpus
from coral_dagster.pipeline.population import bind_experiment
from coral_dagster.pipeline.records import ProblemSplit, ValidationBugs
from coral_dagster.pipeline.validation_bugs import build_validation_bugs, ensure_validation_bugs
from coral_dagster.resources import (
    ArtifactStoreResource,
    ExperimentResource,
    ModelRuntimeResource,
    SandboxResource,
)


@step_asset(Step.SHARED)
def problems(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
) -> MaterializeResult:
    """The benchmark problems split into train / validation / test (disjoint).

    Its data version is a hash of the split and the problems' content. Also binds the artifact
    store to this experiment (`experiment.json`): a store that holds another experiment's
    generations is an error, never silently continued.
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
    record = ProblemSplit(
        split_fingerprint=split.fingerprint(),
        dataset=str(inputs.problem_set.root),
        problem_set_fingerprint=inputs.problem_set.fingerprint(),
        train=tuple(split.train),
        validation=tuple(inputs.validation_names),
        test=tuple(inputs.test_names),
        key_context=inputs.key_context,
    )
    path = store.write_record(record, record.split_fingerprint)
    content = {k: v for k, v in record.to_dict().items() if k != "dataset"}  # not where it lives
    return MaterializeResult(
        data_version=DataVersion(content_hash(content)),
        metadata={
            "problem_count": len(inputs.problem_set.problems),
            "train": len(split.train),
            "validation": len(inputs.validation_names),
            "test": len(inputs.test_names),
            "validation_problems": MetadataValue.json(list(inputs.validation_names)),
            "path": MetadataValue.path(str(path)),
        },
    )


@step_asset(Step.SHARED, deps=[problems])
def training_corpus(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
    sandbox: SandboxResource,
) -> MaterializeResult:
    """The injected-bug training corpus: the train split's own (buggy -> fixed) pairs plus
    mutants of its correct programs that fail a test in the sandbox, as a Hugging Face
    `datasets` dataset in the artifact store (built once per recipe fingerprint)."""
    inputs = experiment.inputs()
    store = artifact_store.store()
    evaluator = sandbox.evaluator(inputs.problem_set, corpus_sandbox(inputs.config.sandbox))
    with store.lock("training-corpus", artifact_store.lock_dir):
        summary = ensure_corpus(
            store,
            inputs.problem_set,
            inputs.split,
            inputs.config.corpus,
            evaluator,
            Path(artifact_store.local_dir) / "corpus",
        )
    return MaterializeResult(
        metadata={
            "fingerprint": summary.fingerprint,
            "pairs": summary.pairs,
            "cached": summary.cached,
            "by_origin": MetadataValue.json(summary.by_origin),
            "by_operator": counts_table("operator", summary.by_operator),
            "by_program": counts_table("program", summary.by_program),
            "path": MetadataValue.path(str(store.path(layout.corpus_dir(summary.fingerprint)))),
        },
        data_version=DataVersion(summary.fingerprint),
    )


def counts_table(name: str, counts: dict[str, int], unit: str = "pairs") -> TableMetadataValue:
    """``{value: count}`` as a two-column Dagster table (``unit``: the count column's name)."""
    return MetadataValue.table(
        records=[TableRecord({name: key, unit: n}) for key, n in counts.items()],
        schema=TableSchema(columns=[TableColumn(name, "string"), TableColumn(unit, "int")]),
    )


@step_asset(Step.SHARED)
def base_model(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    model_runtime: ModelRuntimeResource,
) -> MaterializeResult:
    """The base model checkpoint, resolved and (for the embedded GGUF) converted once.

    Its data version is the checkpoint's content fingerprint (the one in every adapter key)."""
    started = time.perf_counter()
    resolved = model_runtime.resolve(experiment.config().model.base_model)
    return MaterializeResult(
        data_version=DataVersion(resolved.model_id),  # the checkpoint's content fingerprint
        metadata={
            "spec": resolved.spec,
            "model_id": resolved.model_id,
            "path": MetadataValue.path(str(resolved.path)),
            "seconds": time.perf_counter() - started,
        },
    )


@step_asset(Step.SHARED, deps=[problems, base_model])
def validation_bugs(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
    model_runtime: ModelRuntimeResource,
    sandbox: SandboxResource,
) -> MaterializeResult:
    """Hard injected bugs of the validation programs that join the validation set: mutants that
    fail a test, whose fix is an `edit` candidate and whose top-ranked candidate under the base
    model fails a test (`benchmark.validation_bugs`; none when `mutants_per_program` is 0).
    The base model ranks on CPU in float32 wherever this runs, so the set is the same on every
    machine."""
    inputs = experiment.inputs()
    fingerprint = inputs.validation_bugs_fingerprint
    if fingerprint is None:
        return MaterializeResult(
            data_version=DataVersion("none"), metadata={"bugs": 0, "enabled": False}
        )
    store = artifact_store.store()
    config = inputs.config

    def build():
        generator = model_runtime.cpu_generator(model_runtime.resolve(config.model.base_model))
        return build_validation_bugs(
            inputs,
            generator,
            lambda problem_set: sandbox.evaluator(problem_set, corpus_sandbox(config.sandbox)),
            config.generation.batch_size,
            report=context.log.info,
        )

    with store.lock("validation-bugs", artifact_store.lock_dir):
        bugs, cached = ensure_validation_bugs(store, inputs, build)
    by_program = dict(sorted(Counter(b.program for b in bugs.bugs).items()))
    return MaterializeResult(
        data_version=DataVersion(fingerprint),
        metadata={
            "enabled": True,
            "fingerprint": fingerprint,
            "bugs": len(bugs.bugs),
            "cached": cached,
            "funnel": MetadataValue.json(bugs.funnel),
            "by_program": counts_table("program", by_program, "bugs"),
            "by_operator": counts_table(
                "operator", dict(sorted(Counter(b.operator for b in bugs.bugs).items())), "bugs"
            ),
            "fix_ranks": MetadataValue.json({b.key: b.fix_rank for b in bugs.bugs}),
            "path": MetadataValue.path(str(store.path(ValidationBugs.relpath(fingerprint)))),
        },
    )
