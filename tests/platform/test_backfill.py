"""``coral backfill``: a Dagster backfill of a generation's missing partitions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from platform_helpers import write_config

from coral_dagster.backfill import launch_generation_backfill, missing_partitions
from coral_dagster.context import experiment_id
from coral_dagster.driver import execute_step, plan_once, prepare_home
from coral_dagster.stages import load_population


def test_backfill_targets_the_generations_missing_partitions(tmp_path: Path, model_cache: Path):
    os.environ["CORAL_CACHE_DIR"] = str(model_cache)
    home = prepare_home(write_config(tmp_path / "tiny.yaml"), tmp_path / "home")
    instance = home.instance()
    config = home.config()
    eid = experiment_id(config)
    for _ in range(2):  # shared stages, then population g0000
        for request in plan_once(home, instance, config, eid).requests:
            assert execute_step(home, instance, request, eid)
    records = load_population(home.store(), 0)
    missing = missing_partitions(instance, home.store(), 0)
    assert missing["genomes"] == [r["genome_key"] for r in records]
    assert set(missing["adapters"]) == {r["adapter_key"] for r in records}

    launched = launch_generation_backfill(instance, home.store(), 0, eid)
    assert [assets for _, assets, _ in launched] == [
        ["adapters"],
        ["generated_code", "test_scores"],
    ]
    backfills = {b.backfill_id: b for b in instance.get_backfills()}
    for backfill_id, _, keys in launched:
        subset = backfills[backfill_id].asset_backfill_data.target_subset
        targeted = {pk.partition_key for pk in subset.iterate_asset_partitions()}
        assert targeted == set(keys)
        assert backfills[backfill_id].tags["coral/experiment"] == eid


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
