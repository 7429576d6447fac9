"""The sensor path end to end: a real `dagster-daemon` runs `evolution_sensor` to the finish.

The daemon (as `dagster dev` starts it) ticks the sensor, launches every planned run in its own
process through the queued run coordinator, and the evolution of the tiny config must end with
the same populations, keys, generated code and scores as `coral evolve` on the same config
(`finished_home`), with no (asset, partition) materialized twice.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from dagster import AssetKey, DagsterInstance
from platform_helpers import materialization_counts, write_config

from coral_dagster.orchestration.home import Home
from coral_dagster.pipeline.records import GeneratedCode, Population, Scores

REPO = Path(__file__).resolve().parents[2]
DAEMON_TIMEOUT_SECONDS = 420  # a guard: about 2 min on an idle 2-core machine
INSTANCE_YAML = {
    "telemetry": {"enabled": False},
    "run_coordinator": {
        "module": "dagster._core.run_coordinator",
        "class": "QueuedRunCoordinator",
        "config": {"max_concurrent_runs": 3, "dequeue_interval_seconds": 1},
    },
}


def _finished(instance: DagsterInstance) -> bool:
    reports = instance.get_materialized_partitions(AssetKey("evolution_report"))
    return "g0001" in reports


def test_the_daemon_runs_the_evolution_like_coral_evolve(
    tmp_path: Path, finished_home: Path, model_cache: Path
):
    home = Home(tmp_path / "home")
    (home.path / "dagster").mkdir(parents=True)
    (home.path / "dagster" / "dagster.yaml").write_text(yaml.safe_dump(INSTANCE_YAML))
    write_config(home.config_path)
    env = {
        **os.environ,
        "CORAL_HOME": str(home.path),
        "DAGSTER_HOME": str(home.path / "dagster"),
        "CORAL_CACHE_DIR": str(model_cache),
        "CORAL_SENSOR_INTERVAL_SECONDS": "1",
    }
    code_location = ["-m", "coral_dagster.definitions"]
    started = subprocess.run(
        [sys.executable, "-m", "dagster", "sensor", "start", "evolution_sensor", *code_location],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 0, started.stderr[-2000:]
    log = (tmp_path / "daemon.log").open("w")
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "dagster-daemon"), "run", *code_location],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    instance = home.instance()
    try:
        deadline = time.monotonic() + DAEMON_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not _finished(instance):
            assert daemon.poll() is None, (tmp_path / "daemon.log").read_text()[-3000:]
            time.sleep(2)
        runs = instance.get_run_records()
        failed = [r.dagster_run.run_id for r in runs if r.dagster_run.is_failure]
        assert _finished(instance), (
            f"no final report after {DAEMON_TIMEOUT_SECONDS} s; {len(runs)} runs, failed {failed}"
        )
    finally:
        if daemon.poll() is None:
            os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)
        log.close()

    assert not failed
    counts = materialization_counts(instance)
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1]
    assert {r.dagster_run.job_name for r in runs} >= {"coral_genomes", "coral_adapters"}
    assert all("coral/experiment" in r.dagster_run.tags for r in runs)  # every run is planned

    mine, theirs = home.store(), Home(finished_home).store()
    for generation in (0, 1):
        population = mine.read_record(Population, generation)
        assert population == theirs.read_record(Population, generation)
        for key in population.genome_keys:
            code = [mine.read_record(GeneratedCode, key), theirs.read_record(GeneratedCode, key)]
            assert [o.raw_text for o in code[0].outputs] == [o.raw_text for o in code[1].outputs]
            scores = [store.read_record(Scores, key) for store in (mine, theirs)]
            assert scores[0].objectives == scores[1].objectives
            assert scores[0].fitness == scores[1].fitness
