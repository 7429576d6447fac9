"""Generation-keyed reporting assets: ``heldout_evaluation`` and ``evolution_report``."""

from __future__ import annotations

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from coral_dagster.assets.partitions import generation_partitions
from coral_dagster.domain.nsga2 import pareto_front_indices
from coral_dagster.domain.planner import generation_index
from coral_dagster.heldout_eval import evaluate_heldout, heldout_path
from coral_dagster.placement import op_tags_for
from coral_dagster.resources import (
    ArtifactStoreResource,
    ExperimentResource,
    ModelRuntimeResource,
    SandboxResource,
)
from coral_dagster.stages import generation_summary, load_population, load_scores


@asset(
    group_name="coral",
    partitions_def=generation_partitions,
    deps=["population"],
    op_tags=op_tags_for("cpu"),
)
def evolution_report(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
) -> MaterializeResult:
    """Fitness statistics and the Pareto front of one scored generation."""
    generation = generation_index(context.partition_key)
    store = artifact_store.store()
    records = load_population(store, generation)
    scores = [load_scores(store, r["genome_key"]) for r in records]
    front = pareto_front_indices([s["objectives"] for s in scores])
    summary = generation_summary(store, generation)
    report = {
        **summary,
        "pareto_front": [
            {
                "genome_key": records[i]["genome_key"],
                "fitness": scores[i]["fitness"],
                "objectives": scores[i]["objectives"],
            }
            for i in front
        ],
    }
    store.write_json(f"reports/{context.partition_key}.json", report)
    rows = "\n".join(
        f"| `{p['genome_key'][:12]}` | {p['fitness']:.3f} | "
        + " | ".join(
            f"{p['objectives'][o]:.3f}"
            for o in ("bugfix", "syntax", "style", "security", "runtime")
        )
        + " |"
        for p in report["pareto_front"]
    )
    table = (
        "| genome | fitness | bugfix | syntax | style | security | runtime |\n"
        "|---|---|---|---|---|---|---|\n" + rows
    )
    return MaterializeResult(
        metadata={
            "best_fitness": summary["best_fitness"],
            "mean_fitness": summary["mean_fitness"],
            "failed_genomes": summary["n_failed"],
            "pareto_front": MetadataValue.md(table),
        }
    )


@asset(
    group_name="coral",
    partitions_def=generation_partitions,
    deps=["population", "base_model", "problems"],
    op_tags=op_tags_for("gpu"),
)
def heldout_evaluation(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
    model_runtime: ModelRuntimeResource,
    sandbox: SandboxResource,
) -> MaterializeResult:
    """Best genomes of this generation vs baselines on the held-out test split."""
    generation = generation_index(context.partition_key)
    store = artifact_store.store()
    inputs = experiment.inputs()
    model = inputs.config.model
    base = model_runtime.resolve(model.base_model)
    result = evaluate_heldout(
        store,
        inputs,
        generation,
        base,
        model_runtime.generator(base, model.device, model.dtype),
        sandbox.evaluator(inputs.problem_set, inputs.config.sandbox),
        artifact_store.lock_dir,
        artifact_store.adapter_cache,
        device=model_runtime.device or model.device,
    )
    path = store.write_json(heldout_path(generation), result)
    rows = "\n".join(
        f"| {s['method']} | {len(s['fully_fixed_problems'])}/{s['n_problems']} | "
        f"{s['mean_pass_rate']:.3f} "
        f"[{s['mean_pass_rate_ci'][0]:.3f}, {s['mean_pass_rate_ci'][1]:.3f}] | "
        f"{s['pass_at_1']:.3f} |"
        for s in result["summaries"]
    )
    table = "| method | fixed | mean pass rate [95% CI] | pass@1 |\n|---|---|---|---|\n" + rows
    return MaterializeResult(
        metadata={
            "methods": MetadataValue.md(table),
            "comparisons": MetadataValue.md(
                "\n".join(f"- {c['sentence']}" for c in result["comparisons"])
            ),
            "test_problems": len(result["test_problems"]),
            "path": MetadataValue.path(str(path)),
        }
    )
