"""`coral report` and the `evolution_report` files on a finished tiny-random evolution."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from coral_dagster.orchestration.home import Home
from coral_dagster.pipeline.layout import report_dir
from coral_dagster.pipeline.population import load_population
from coral_dagster.reporting import ExperimentReport


def test_coral_report_json_on_a_finished_evolution(finished_home: Path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "coral_dagster.cli",
            "report",
            "--home",
            str(finished_home),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    report = ExperimentReport.from_dict(json.loads(out.stdout))
    store = Home(finished_home).store()
    populations = [load_population(store, g) for g in (0, 1)]

    assert report.missing == ()
    assert [(g.generation, g.n_genomes) for g in report.generations] == [(0, 4), (1, 4)]
    assert all(g.best_fitness is not None and 0.0 <= g.diversity <= 1.0 for g in report.generations)
    assert {p.genome_key for p in report.pareto_front} <= set(populations[1].genome_keys)
    slots = [g.adapter_key for population in populations for g in population.genomes]
    assert report.cache.adapters_trained == len(set(slots))
    assert report.cache.adapters_reused == len(slots) - len(set(slots)) >= 1  # the elite's
    assert {"shared", "population", "adapter", "generate", "score", "heldout", "report"} <= set(
        report.stage_seconds
    )
    methods = [s.method for s in report.heldout.summaries]
    assert {"base + neutral", "base + evolved knobs", "standard LoRA", "buggy unchanged"} <= set(
        methods
    )

    # The asset's own report of the final generation: the same, except that it could not time
    # its own run.
    for generation in (0, 1):
        assert store.is_valid_dir(report_dir(generation))
    stored = ExperimentReport.from_dict(
        json.loads(store.path(report_dir(1), "report.json").read_text())
    )
    assert replace(stored, stage_seconds=report.stage_seconds) == report
    assert store.exists(f"{report_dir(1)}/heldout.png")
    assert not store.exists(f"{report_dir(0)}/heldout.png")  # evaluated after g0001 only
