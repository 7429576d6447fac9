"""Generation-keyed reporting assets: ``heldout_evaluation`` and ``evolution_report``."""

import tempfile
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from coral_dagster.domain.planner import generation_index
from coral_dagster.experiment_report import build_experiment_report, read_run_timings, report_dir
from coral_dagster.heldout_eval import evaluate_heldout, heldout_path
from coral_dagster.partitions import generation_partitions
from coral_dagster.placement import op_tags_for
from coral_dagster.reporting import PLOT_NAMES, png_data_uri, render_markdown, write_report
from coral_dagster.resources import (
    ArtifactStoreResource,
    ExperimentResource,
    ModelRuntimeResource,
    SandboxResource,
)


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
    """The experiment report up to this generation: fitness, Pareto front, cache, timings.

    Writes ``reports/gNNNN/`` (``report.json``, ``report.md`` and the PNG plots the data
    allows) into the artifact store; the metadata carries the whole report as Markdown with the
    plots inline (base64 data URIs) and the path of each file.
    """
    generation = generation_index(context.partition_key)
    store = artifact_store.store()
    config = experiment.config()
    runs = read_run_timings(
        context.instance, experiment.experiment_id(), exclude_run_ids={context.run_id}
    )
    report = build_experiment_report(store, config, runs, generation)
    relpath = report_dir(generation)
    with tempfile.TemporaryDirectory(prefix="coral-report-") as tmp:
        written = write_report(report, tmp)
        images = {name: png_data_uri(written[name]) for name in PLOT_NAMES if name in written}
        markdown = render_markdown(report, images)
        store.publish_dir(Path(tmp), relpath)
    latest = report.generations[-1]
    metadata: dict[str, Any] = {
        "report": MetadataValue.md(markdown),
        "report_json": MetadataValue.path(str(store.path(relpath, "report.json"))),
        "report_md": MetadataValue.path(str(store.path(relpath, "report.md"))),
        **{
            f"{name}_plot": MetadataValue.path(str(store.path(relpath, f"{name}.png")))
            for name in PLOT_NAMES
            if name in written
        },
        "pareto_front_size": len(report.pareto_front),
        "failed_genomes": latest.n_failed,
        "missing": MetadataValue.md("\n".join(f"- {m}" for m in report.missing) or "nothing"),
    }
    if latest.best_fitness is not None:
        metadata["best_fitness"] = latest.best_fitness
        metadata["mean_fitness"] = latest.mean_fitness
    if report.cache is not None:
        metadata["adapter_hit_rate"] = report.cache.hit_rate
        metadata["compute_seconds_saved"] = report.cache.compute_seconds_saved
    return MaterializeResult(metadata=metadata)


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
