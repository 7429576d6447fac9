"""Exactly-once training under concurrency, kill and resume, corrupted adapters."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from platform_helpers import evolve, materialization_counts, run_step, write_config

from coral_dagster.domain.partition_keys import content_key
from coral_dagster.domain.planner import Step
from coral_dagster.orchestration.driver import plan_once
from coral_dagster.orchestration.home import Home, prepare_home
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.inputs import experiment_id
from coral_dagster.pipeline.records import Population, Scores


def evolve_cmd(config: Path, home: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "coral_dagster.cli",
        "evolve",
        "--config",
        str(config),
        "--home",
        str(home),
    ]


def results(home: Path) -> dict:
    store = Home(home).store()
    out = {}
    for generation in (0, 1):
        for g in store.read_record(Population, generation).genomes:
            scores = store.read_record(Scores, g.genome_key)
            out[g.genome_key] = (generation, g.adapter_key, scores.objectives, scores.fitness)
    return out


def test_concurrent_drivers_train_each_adapter_once(
    tmp_path: Path, finished_home: Path, model_cache: Path
):
    config = write_config(tmp_path / "tiny.yaml")
    env = {**os.environ, "CORAL_CACHE_DIR": str(model_cache)}
    home = tmp_path / "home"
    logs = [tmp_path / f"driver{i}.log" for i in range(2)]
    procs = []
    for log in logs:  # logs go to files: a full pipe would stall a driver holding a lock
        with log.open("w") as out:
            procs.append(
                subprocess.Popen(
                    evolve_cmd(config, home), env=env, stdout=out, stderr=subprocess.STDOUT
                )
            )
    for p in procs:
        p.wait(timeout=900)
    assert [p.returncode for p in procs] == [0, 0], [log.read_text()[-3000:] for log in logs]
    # The console is `coral evolve`'s own lines: no library warnings (PEFT's "Adapter ... was
    # active which is now deleted" UserWarning), and a step's counters include that step.
    output = "\n".join(log.read_text() for log in logs)
    assert "UserWarning" not in output and "Traceback" not in output, output[-3000:]
    assert re.search(r"\] score \S+( \+\d+)? done \([\d.]+s\) \| .*scores 4/4", output), output
    trained = Counter(
        line["adapter_key"] for line in Home(home).store().read_lines(layout.TRAINING_LOG)
    )
    assert trained and max(trained.values()) == 1, trained
    counts = materialization_counts(Home(home).instance())
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1]
    assert results(home) == results(finished_home)


def test_kill_and_resume_recomputes_nothing(tmp_path: Path, finished_home: Path, model_cache: Path):
    config = write_config(tmp_path / "tiny.yaml")
    env = {**os.environ, "CORAL_CACHE_DIR": str(model_cache)}
    home = tmp_path / "home"
    proc = subprocess.Popen(
        evolve_cmd(config, home),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    scores_dir = home / "artifacts" / "scores"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if scores_dir.exists() and len(list(scores_dir.glob("*.json"))) >= 2:
            break  # in the middle of generation 0
        time.sleep(0.2)
    assert proc.poll() is None, "driver ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_counts = materialization_counts(Home(home).instance())

    resumed = prepare_home(config, home)
    plan = evolve(resumed)
    assert plan.finished
    counts = materialization_counts(Home(home).instance())
    assert max(counts.values()) == 1, [k for k, v in counts.items() if v > 1]
    assert all(counts[k] == 1 for k in killed_counts)
    assert results(home) == results(finished_home)


@pytest.mark.parametrize("damage", ["weights", "manifest"])
def test_corrupted_adapter_is_detected_and_retrained(
    tmp_path: Path, model_cache: Path, monkeypatch, damage: str
):
    """A flipped byte in the weights, or a MANIFEST.json that is not one (entries of the wrong
    type: once a TypeError on every resume), makes the adapter invalid: retrained, never
    loaded."""
    config = write_config(
        tmp_path / "tiny.yaml", evolution={"generations": 1, "elite_count": 1, "tournament_size": 2}
    )
    monkeypatch.setenv("CORAL_CACHE_DIR", str(model_cache))
    home = prepare_home(config, tmp_path / "home")
    store = home.store()
    # Run until generation 0's adapters exist, then corrupt one before its genomes are scored.
    instance = home.instance()
    cfg = home.config()
    eid = experiment_id(cfg)
    while True:
        plan = plan_once(home, instance, cfg, eid)
        adapter_steps = [r for r in plan.requests if r.step is Step.ADAPTER]
        if adapter_steps:
            for r in adapter_steps:
                assert run_step(home, instance, r, eid)
            break
        for r in plan.requests:
            assert run_step(home, instance, r, eid)
    victim = adapter_steps[0].partition_key
    adapter_dir = Path(store.path(layout.adapter_dir(content_key(victim))).path)
    if damage == "weights":
        weights = adapter_dir / "adapter_model.safetensors"
        data = bytearray(weights.read_bytes())
        data[-5] ^= 0xFF
        weights.write_bytes(bytes(data))
    else:
        (adapter_dir / layout.MANIFEST).write_text('{"files": {"adapter_model.safetensors": 5}}')

    plan = plan_once(home, instance, cfg, eid)
    assert ("adapter", (victim,)) in [(r.step, r.partitions) for r in plan.requests]
    evolve(home)
    assert store.is_valid_dir(layout.adapter_dir(content_key(victim)))
    trained = Counter(line["adapter_key"] for line in store.read_lines(layout.TRAINING_LOG))
    assert trained[content_key(victim)] == 2  # trained, corrupted, retrained
