"""End to end: 2 generations of 4 genomes through the real assets on a real Dagster instance."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from platform_helpers import evolve, materialization_counts

from coral_dagster.domain.partition_keys import content_key
from coral_dagster.orchestration.home import Home
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.population import load_population
from coral_dagster.pipeline.records import HeldoutResult, Scores


def test_two_generations_complete(finished_home: Path):
    home = Home(finished_home)
    store = home.store()
    for generation in (0, 1):
        keys = load_population(store, generation).genome_keys
        assert len(keys) == 4
        assert len(set(keys)) == 4
        for key in keys:
            scores = store.read_record(Scores, key)
            assert set(scores.objectives) == {"bugfix", "syntax", "style", "security", "runtime"}
            assert 0.0 <= scores.fitness <= 1.0
    heldout = store.read_record(HeldoutResult, 1)
    methods = [s.method for s in heldout.summaries]
    assert {"base + neutral", "base + evolved knobs", "standard LoRA", "buggy unchanged"} <= set(
        methods
    )
    assert store.is_valid_dir(layout.report_dir(0))


def test_long_steps_log_their_progress_to_the_run(finished_home: Path):
    """The generate and held-out steps say how far they are in their Dagster run's log (the
    UI's run page); each ends with its complete line."""
    instance = Home(finished_home).instance()
    messages: dict[str, list[list[str]]] = {"generate": [], "heldout": []}
    for record in instance.get_run_records():
        step = record.dagster_run.tags.get("coral/step")
        if step in messages:
            logs = instance.all_logs(record.dagster_run.run_id)
            messages[step].append([e.user_message for e in logs if e.dagster_event is None])
    assert len(messages["generate"]) == 2
    for run in messages["generate"]:
        lines = [m for m in run if m.startswith("generated (")]
        assert lines and "/" in lines[-1] and "(100%" in lines[-1], run
    (heldout,) = messages["heldout"]
    done = [m for m in heldout if m.startswith("held-out: generated (") and "(100%" in m]
    assert len(done) == 1, heldout
    # "held-out: generated (4 methods x P problems x n) N/N samples (100%, ...)"
    total = int(done[0].split(") ")[1].split("/")[0])
    assert f"held-out: testing {total} candidates in the sandbox" in heldout


def test_every_partition_materialized_once_and_every_adapter_trained_once(finished_home: Path):
    home = Home(finished_home)
    instance = home.instance()
    counts = materialization_counts(instance)
    assert counts, "no materializations recorded"
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1]
    trained = Counter(line["adapter_key"] for line in home.store().read_lines(layout.TRAINING_LOG))
    assert trained and max(trained.values()) == 1
    # Every adapter materialized by the evolution was trained exactly once (plus the held-out
    # standard LoRA, trained outside the adapters partitions).
    materialized_adapters = {content_key(k[1]) for k in counts if k[0] == "adapters"}
    assert materialized_adapters <= set(trained)


def test_rerun_after_finish_does_no_work(finished_home: Path):
    home = Home(finished_home)
    instance = home.instance()
    before = len(instance.get_run_records())
    lines: list[str] = []
    plan = evolve(home, lines)
    assert plan.finished
    assert len(instance.get_run_records()) == before
    assert not [line for line in lines if "..." in line]  # no step was started


def test_status_reports_each_generation(finished_home: Path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "coral_dagster.cli",
            "status",
            "--home",
            str(finished_home),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = json.loads(out.stdout)
    assert [r["partition"] for r in rows] == ["g0000", "g0001"]
    for r in rows:
        assert r["done"] + r["failed"] == 4 and r["pending"] == 0
        assert 0.0 <= r["cache_hit_rate"] <= 1.0
    # The elite carried into g0001 reuses its adapter.
    assert rows[1]["reused_slots"] >= 1


def test_dagster_runs_are_tagged_by_step(finished_home: Path):
    instance = Home(finished_home).instance()
    steps = Counter(r.dagster_run.tags.get("coral/step") for r in instance.get_run_records())
    assert steps["shared"] == 1
    assert steps["population"] == 2
    assert steps["report"] == 2
    assert steps["heldout"] == 1
    # Batched: one generate and one score run per generation (4 genomes <= genomes_per_run).
    assert steps["generate"] == 2 and steps["score"] == 2
    batches = [
        int(r.dagster_run.tags["coral/batch-size"])
        for r in sorted(instance.get_run_records(), key=lambda r: r.create_timestamp)
        if r.dagster_run.tags.get("coral/step") == "generate"
    ]
    assert batches[0] == 4 and batches[1] < 4  # generation 1's elite is not generated again
    assert all(r.dagster_run.is_success for r in instance.get_run_records())
    # the UI's job pages list a run by the repository label of the code location `coral`
    labels = {r.dagster_run.tags.get(".dagster/repository") for r in instance.get_run_records()}
    assert labels == {"__repository__@coral"}
    jobs = {r.dagster_run.job_name for r in instance.get_run_records()}
    assert jobs == {
        "coral_shared",
        "coral_generations",
        "coral_adapters",
        "coral_genomes",
        "coral_heldout",
    }
