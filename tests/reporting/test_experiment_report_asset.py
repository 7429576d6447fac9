"""The `evolution_report` asset: report files in the store, Markdown + plot paths in metadata."""

from __future__ import annotations

import base64
import json
import re

from dagster import AssetKey, materialize

from coral_dagster.assets.report import evolution_report
from coral_dagster.orchestration.run_timings import read_run_timings
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.inputs import experiment_id
from coral_dagster.pipeline.report import build_experiment_report
from coral_dagster.reporting import ExperimentReport
from coral_dagster.resources import ArtifactStoreResource, ExperimentResource

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
REPORT = layout.report_dir(1)


def test_evolution_report_materializes_files_and_metadata(report_home, run_recorder, tmp_path):
    home, facts = report_home()
    instance = home.instance()
    eid = experiment_id(facts.config)
    tags = {"coral/experiment": eid, "coral/generation": "1"}
    run_recorder(instance, {**tags, "coral/step": "heldout"})
    instance.add_dynamic_partitions("generations", ["g0001"])
    store = home.store()
    resources = {
        "experiment": ExperimentResource(config_path=str(home.config_path)),
        "artifact_store": ArtifactStoreResource(
            root=str(store.root), local_dir=str(tmp_path / "local-cache")
        ),
    }
    result = materialize(
        [evolution_report],
        partition_key="g0001",
        instance=instance,
        resources=resources,
        tags={**tags, "coral/step": "report"},
    )
    assert result.success

    # Files in the store: a published directory that passes its manifest.
    manifest = store.verify_dir(REPORT)
    assert sorted(manifest["files"]) == [
        "fitness.png",
        "heldout.png",
        "pareto.png",
        "report.json",
        "report.md",
    ]
    stored = ExperimentReport.from_dict(json.loads(store.path(REPORT, "report.json").read_text()))
    runs = read_run_timings(instance, eid, exclude_run_ids={result.run_id})
    assert stored == build_experiment_report(store, facts.config, runs, generation=1)
    assert stored.missing == () and set(stored.stage_seconds) == {"heldout"}
    assert "![Pareto front](pareto.png)" in store.path(REPORT, "report.md").read_text()

    # Metadata: the whole report as Markdown with the plots inline, and a path per file.
    (event,) = result.asset_materializations_for_node("evolution_report")
    assert event.asset_key == AssetKey("evolution_report") and event.partition == "g0001"
    metadata = event.metadata
    markdown = metadata["report"].value
    assert "| genome | adapter | bugfix | syntax | style | security | runtime |" in markdown
    assert facts.records[1][0].genome_key[:12] in markdown  # the elite is on the front
    images = re.findall(r"!\[([^\]]+)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert [alt for alt, _ in images] == [
        "fitness per generation",
        "Pareto front",
        "held-out mean pass rate per method",
    ]
    for name, (_, data) in zip(("fitness", "pareto", "heldout"), images, strict=True):
        png = base64.b64decode(data)
        assert png.startswith(PNG_MAGIC)
        path = metadata[f"{name}_png"].value
        assert path == str(store.path(REPORT, f"{name}.png"))
        # each plot is an entry of its own (one click in the UI), the same inline PNG
        assert metadata[f"{name}_plot"].value.endswith(f"(data:image/png;base64,{data})")
        assert store.path(REPORT, f"{name}.png").read_bytes() == png
    assert json.loads(store.path(REPORT, "report.json").read_text())["missing"] == []
    assert metadata["report_json"].value == str(store.path(REPORT, "report.json"))
    assert metadata["best_fitness"].value == stored.generations[1].best_fitness
    table = metadata["generations"].value
    assert [r.data["generation"] for r in table.records] == [0, 1]
    assert [r.data["best_fitness"] for r in table.records] == [
        g.best_fitness for g in stored.generations
    ]
    assert list(metadata)[:3] == ["fitness_plot", "pareto_plot", "heldout_plot"]
    # this generation's numbers, plotted by the UI across generation partitions
    assert metadata["mean_fitness"].value == stored.generations[1].mean_fitness
    assert metadata["diversity"].value == stored.generations[1].diversity
    assert 0.0 <= metadata["hit_rate"].value <= 1.0
    assert metadata["adapter_hit_rate"].value == 0.5
    assert metadata["compute_seconds_saved"].value == 340.0
    assert metadata["pareto_front_size"].value == 2
    assert metadata["missing"].value == "nothing"
