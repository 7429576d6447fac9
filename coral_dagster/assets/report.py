"""Generation-keyed reporting assets: `heldout_evaluation` and `evolution_report`."""

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from dagster import (
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableMetadataValue,
    TableRecord,
    TableSchema,
)

from coral_dagster.assets.keys import generation_or_fail
from coral_dagster.assets.metadata import heldout_pass_rates, plot_markdown
from coral_dagster.assets.population import population
from coral_dagster.assets.shared import base_model, problems
from coral_dagster.domain.planner import Step
from coral_dagster.orchestration.run_timings import read_run_timings
from coral_dagster.orchestration.steps import step_asset
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.heldout import evaluate_heldout
from coral_dagster.pipeline.report import build_experiment_report
from coral_dagster.pipeline.statistics import as_float, generation_table, genome_table
from coral_dagster.reporting import PLOT_NAMES, png_data_uri, render_markdown, write_report
from coral_dagster.resources import (
    ArtifactStoreResource,
    ExperimentResource,
    ModelRuntimeResource,
    SandboxResource,
)

PLOT_TITLES = {
    "fitness": "fitness per generation",
    "pareto": "Pareto front",
    "heldout": "held-out mean pass rate per method",
}
GENERATION_COLUMNS = (
    ("generation", "int"),
    ("genomes", "int"),
    ("scored", "int"),
    ("failed", "int"),
    ("best_fitness", "float"),
    ("mean_fitness", "float"),
    ("hit_rate", "float"),
    ("diversity", "float"),
)


def generations_metadata(summary: pd.DataFrame) -> TableMetadataValue:
    """The per-generation statistics as a Dagster table (the UI renders it as a table)."""
    return MetadataValue.table(
        records=[
            TableRecord(
                {
                    name: (int(row[name]) if kind == "int" else as_float(row[name]))
                    for name, kind in GENERATION_COLUMNS
                }
            )
            for _, row in summary.iterrows()
        ],
        schema=TableSchema(columns=[TableColumn(name, kind) for name, kind in GENERATION_COLUMNS]),
    )


@step_asset(Step.REPORT, deps=[population])
def evolution_report(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
) -> MaterializeResult:
    """The experiment report up to this generation: fitness, Pareto front, cache, timings.

    Writes `reports/gNNNN/` (`report.json`, `report.md` and the PNG plots the data allows) into
    the artifact store. The metadata opens with each plot (one click shows it), then the whole
    report as Markdown, this generation's numbers (plotted across generations by the UI) and
    the path of each file.
    """
    generation = generation_or_fail(context.partition_key)
    store = artifact_store.store()
    config = experiment.config()
    runs = read_run_timings(
        context.instance, experiment.experiment_id(), exclude_run_ids={context.run_id}
    )
    table = genome_table(store, upto=generation)
    report = build_experiment_report(store, config, runs, generation, table)
    relpath = layout.report_dir(generation)
    with tempfile.TemporaryDirectory(prefix="coral-report-") as tmp:
        written = write_report(report, tmp)
        images = {name: png_data_uri(written[name]) for name in PLOT_NAMES if name in written}
        markdown = render_markdown(report, images)
        store.publish_dir(Path(tmp), relpath)
    latest = report.generations[-1]
    per_generation = generation_table(table)
    row = per_generation[per_generation["generation"] == generation]
    metadata: dict[str, Any] = {
        **{
            f"{name}_plot": MetadataValue.md(plot_markdown(PLOT_TITLES[name], images[name]))
            for name in PLOT_NAMES
            if name in images
        },
        "report": MetadataValue.md(markdown),
        "generations": generations_metadata(per_generation),
        "pareto_front_size": len(report.pareto_front),
        "failed_genomes": latest.n_failed,
        "missing": MetadataValue.md("\n".join(f"- {m}" for m in report.missing) or "nothing"),
    }
    if latest.best_fitness is not None:
        metadata["best_fitness"] = float(latest.best_fitness)
        metadata["mean_fitness"] = float(latest.mean_fitness)
    if not row.empty:
        for name in ("diversity", "hit_rate"):
            value = as_float(row.iloc[0][name])
            if value is not None:
                metadata[name] = value
    if report.cache is not None:
        metadata["adapter_hit_rate"] = report.cache.hit_rate
        metadata["compute_seconds_saved"] = report.cache.compute_seconds_saved
    metadata["report_json"] = MetadataValue.path(str(store.path(relpath, "report.json")))
    metadata["report_md"] = MetadataValue.path(str(store.path(relpath, "report.md")))
    for name in PLOT_NAMES:
        if name in written:
            metadata[f"{name}_png"] = MetadataValue.path(str(store.path(relpath, f"{name}.png")))
    return MaterializeResult(metadata=metadata)


@step_asset(Step.HELDOUT, deps=[population, base_model, problems])
def heldout_evaluation(
    context: AssetExecutionContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
    model_runtime: ModelRuntimeResource,
    sandbox: SandboxResource,
) -> MaterializeResult:
    """Best genomes of the final generation vs baselines on the held-out test problems.

    Partitioned by `final_generations`: only the generation the evolution ends with is
    evaluated. The metadata carries each method's mean pass rate as a number
    (`pass_rate_best_evolved`, `pass_rate_<baseline>`) besides the methods table.
    """
    generation = generation_or_fail(context.partition_key)
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
        sandbox.evaluator(inputs.heldout_set, inputs.config.sandbox),
        Path(artifact_store.local_dir),
        artifact_store.adapter_cache,
        device=model_runtime.device or model.device,
        report=context.log.info,
    )
    path = store.write_record(result, generation)
    rows = "\n".join(
        f"| {s.method} | {len(s.fully_fixed_problems)}/{s.n_problems} | "
        f"{s.mean_pass_rate:.3f} [{s.mean_pass_rate_ci[0]:.3f}, {s.mean_pass_rate_ci[1]:.3f}] | "
        f"{s.pass_at_1:.3f} |"
        for s in result.summaries
    )
    table = "| method | fixed | mean pass rate [95% CI] | pass@1 |\n|---|---|---|---|\n" + rows
    return MaterializeResult(
        metadata={
            **heldout_pass_rates(result.summaries),
            "methods": MetadataValue.md(table),
            "comparisons": MetadataValue.md(
                "\n".join(f"- {c.sentence}" for c in result.comparisons)
            ),
            "test_problems": len(result.test_problems),
            "path": MetadataValue.path(str(path)),
        }
    )
