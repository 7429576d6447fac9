"""``coral backfill``: a Dagster backfill of a generation's missing partitions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster import RunsFilter
from platform_helpers import run_step, write_config

from coral_dagster.domain.planner import Step
from coral_dagster.orchestration.backfill import launch_generation_backfill, missing_partitions
from coral_dagster.orchestration.driver import plan_once
from coral_dagster.orchestration.home import prepare_home
from coral_dagster.pipeline.inputs import experiment_id
from coral_dagster.pipeline.population import load_population


def test_backfill_targets_the_generations_missing_partitions(
    tmp_path: Path, model_cache: Path, monkeypatch
):
    monkeypatch.setenv("CORAL_CACHE_DIR", str(model_cache))
    home = prepare_home(write_config(tmp_path / "tiny.yaml"), tmp_path / "home")
    instance = home.instance()
    config = home.config()
    eid = experiment_id(config)
    for _ in range(2):  # shared stages, then population g0000
        for request in plan_once(home, instance, config, eid).requests:
            assert run_step(home, instance, request, eid)
    genomes = load_population(home.store(), 0).genomes
    missing = missing_partitions(instance, home.store(), 0)
    assert missing[Step.GENERATE] == [g.partition_key for g in genomes]
    assert set(missing[Step.ADAPTER]) == {g.adapter_partition_key for g in genomes}

    launched = launch_generation_backfill(instance, home.store(), 0, eid, home.path)
    assert [b.job for b in launched] == ["coral_adapters", "coral_genomes"]
    assert [set(b.partitions) for b in launched] == [
        set(missing[Step.ADAPTER]),
        set(missing[Step.GENERATE]),
    ]
    backfills = {b.backfill_id: b for b in instance.get_backfills()}
    assert set(backfills) == {b.backfill_id for b in launched}
    for backfill in backfills.values():
        assert backfill.tags["coral/experiment"] == eid
    runs = instance.get_run_records(filters=RunsFilter(tags={"coral/backfill": "cli"}))
    by_job = {}
    for record in runs:
        run = record.dagster_run
        by_job.setdefault(run.job_name, set()).add(run.tags["dagster/partition"])
        assert run.tags["coral/experiment"] == eid
    assert by_job == {b.job: set(b.partitions) for b in launched}
    # The runs wait for the daemon (queued); the planner sees the adapters' runs in flight and
    # launches nothing of its own (the genomes wait for their adapters).
    plan = plan_once(home, instance, config, eid)
    assert plan.requests == () and plan.waiting == len(missing[Step.ADAPTER])


def backfill_cli(home: Path, generation: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "coral_dagster.cli",
            "backfill",
            "--generation",
            str(generation),
            "--home",
            str(home),
        ],
        capture_output=True,
        text=True,
    )


def test_backfill_cli_on_a_finished_generation_says_nothing_is_missing(finished_home: Path):
    out = backfill_cli(finished_home, 1)
    assert out.returncode == 0, out.stderr
    assert "nothing missing or failed" in out.stdout


def test_backfill_refuses_a_generation_that_already_bred_its_successor(finished_home: Path):
    out = backfill_cli(finished_home, 0)
    assert out.returncode != 0
    assert "generation 0 already bred g0001" in out.stderr


def test_backfill_of_a_generation_that_does_not_exist_is_one_line(finished_home: Path):
    out = backfill_cli(finished_home, 2)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "Error: generation 2 does not exist yet (populations: g0000, g0001); "
        "run `coral evolve` to create it"
    ]
