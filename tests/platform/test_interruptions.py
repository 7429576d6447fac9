"""Issue 10, item 6: an interrupted run is no failed attempt; a step whose own code raises is
retried up to ``retries.max_attempts`` and then recorded as failed; ``coral retry-failed`` /
``coral evolve --retry-failed`` give failed steps fresh attempts on the same home.

Every test drives the real ``coral`` CLI in subprocesses and kills it for real (SIGKILL, SIGINT),
or fills a real (tmpfs) disk.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from dagster import DagsterRunStatus, RunsFilter, build_sensor_context
from platform_helpers import (
    coral,
    coral_cmd,
    coral_env,
    materialization_counts,
    run_step,
    write_config,
)

from coral_dagster.benchmark.problems import BUNDLED_DATASET
from coral_dagster.domain.planner import SHARED_PARTITION, Step
from coral_dagster.orchestration.driver import plan_once
from coral_dagster.orchestration.facts import (
    done_steps,
    existing_partitions,
    run_end,
    step_states,
)
from coral_dagster.orchestration.home import Home, prepare_home
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.inputs import experiment_id
from coral_dagster.pipeline.records import GenomeSpec, Population, Scores
from coral_dagster.resources import build_resources
from coral_dagster.sensors import evolution_sensor

ONE_GENERATION = {"generations": 1, "elite_count": 1, "tournament_size": 2}


def start_evolve(config: Path, home: Path, log: Path, model_cache: Path) -> subprocess.Popen:
    with log.open("w") as out:  # a file, not a pipe: a full pipe would stall the driver
        return subprocess.Popen(
            coral_cmd("evolve", "--config", str(config), "--home", str(home)),
            env=coral_env(model_cache),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def wait_for(log: Path, pattern: str, proc: subprocess.Popen, timeout: float = 600) -> re.Match:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text())
        if found:
            return found
        assert proc.poll() is None, f"driver ended before {pattern!r}:\n{log.read_text()[-3000:]}"
        time.sleep(0.2)
    raise AssertionError(f"no {pattern!r} within {timeout}s:\n{log.read_text()[-3000:]}")


def results(home: Path, generations: int = 2) -> dict:
    store = Home(home).store()
    out = {}
    for generation in range(generations):
        for g in store.read_record(Population, generation).genomes:
            scores = store.read_record(Scores, g.genome_key)
            out[g.genome_key] = (generation, g.adapter_key, scores.objectives, scores.fitness)
    return out


def failed_genomes(home: Path) -> list[str]:
    store = Home(home).store()
    return [
        g.genome_key
        for generation in range(2)
        if store.has_record(Population, generation)
        for g in store.read_record(Population, generation).genomes
        if store.read_record(Scores, g.genome_key).failed
    ]


def states(home: Path) -> dict:
    h = Home(home)
    instance = h.instance()
    order = existing_partitions(instance).get(Step.GENERATE, ())
    return step_states(instance, experiment_id(h.config()), order, done_steps(instance))


def runs_of(home: Path, task: str, status: DagsterRunStatus) -> list:
    instance = Home(home).instance()
    records = instance.get_run_records(
        filters=RunsFilter(tags={"coral/task": task}, statuses=[status])
    )
    return [r.dagster_run for r in records]


def test_driver_killed_twice_in_the_shared_stage_is_no_failed_attempt(
    tmp_path: Path, finished_home: Path, model_cache: Path
):
    """SIGKILL `coral evolve` twice while the shared stage runs (max_attempts is 2): the resumed
    evolution finishes with the results of an undisturbed one and nothing recorded as failed."""
    config = write_config(tmp_path / "tiny.yaml")
    home = tmp_path / "home"
    for attempt in (1, 2):
        log = tmp_path / f"driver{attempt}.log"
        proc = start_evolve(config, home, log, model_cache)
        wait_for(log, rf"shared {SHARED_PARTITION} \(attempt {attempt}\) \.\.\.", proc)
        time.sleep(2.0)  # inside the run (the shared stage takes several seconds)
        assert proc.poll() is None, log.read_text()[-3000:]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        assert len(runs_of(home, "shared", DagsterRunStatus.STARTED)) == 1  # left running

    done = coral(model_cache, "evolve", "--config", str(config), "--home", str(home))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "marked run" in done.stdout  # the second orphan, failed by this driver
    shared = states(home)[("shared", SHARED_PARTITION)]
    # counts start afresh after the shared stage's success; the two killed runs were
    # interruptions, never failed attempts
    assert (shared.failures, shared.interruptions, shared.finished) == (0, 0, 3)
    killed = runs_of(home, "shared", DagsterRunStatus.FAILURE)
    assert len(killed) == 2
    instance = Home(home).instance()
    assert [run_end(instance, run).counted for run in killed] == [False, False]
    assert failed_genomes(home) == []
    assert results(home) == results(finished_home)


def interrupt_until_it_stops(proc: subprocess.Popen, log: Path, failed: str) -> None:
    """Press Ctrl-C (SIGINT) once a second until the step reports it failed. Dagster raises the
    interrupt wherever the main thread is; one that lands in a weakref callback is ignored by
    Python, and the step goes on: the user presses again."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(1.0)
        if re.search(failed, log.read_text()) or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGINT)
        for _ in range(20):
            if re.search(failed, log.read_text()) or proc.poll() is not None:
                return
            time.sleep(0.1)
    raise AssertionError(f"the driver did not stop: {log.read_text()[-3000:]}")


def test_ctrl_c_twice_during_adapter_training_is_no_failed_attempt(
    tmp_path: Path, finished_home: Path, model_cache: Path
):
    """SIGINT (Ctrl-C) reaches the step as an interrupt: the driver stops with one line saying
    the step was interrupted, not failed; twice on the same adapter, then resumed, the evolution
    finishes with nothing recorded as failed."""
    config = write_config(tmp_path / "tiny.yaml")
    home = tmp_path / "home"
    adapter = None
    for attempt in (1, 2):
        log = tmp_path / f"driver{attempt}.log"
        proc = start_evolve(config, home, log, model_cache)
        try:
            found = wait_for(log, rf"\] adapter (\S+) \(attempt {attempt}\) \.\.\.", proc)
            adapter = adapter or found.group(1)
            assert found.group(1) == adapter  # the same adapter step again
            interrupt_until_it_stops(proc, log, f"adapter {re.escape(adapter)} FAILED")
            assert proc.wait(timeout=120) == 1
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        last = log.read_text().strip().splitlines()[-1]
        assert last.startswith("Error: evolution stopped: adapter "), last
        assert "was interrupted" in last and "not a failed attempt" in last, last

    interrupted = [s for (task, _), s in states(home).items() if task == "adapter"]
    assert sum(s.interruptions for s in interrupted) == 2
    assert sum(s.failures for s in interrupted) == 0
    done = coral(model_cache, "evolve", "--config", str(config), "--home", str(home))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert failed_genomes(home) == []
    assert results(home) == results(finished_home)


def test_failing_shared_stage_stops_until_evolve_retry_failed(tmp_path: Path, model_cache: Path):
    """A shared stage whose code raises (a broken dataset) fails max_attempts times and stops the
    evolution, also on every plain resume; once the dataset is fixed, `coral evolve
    --retry-failed` gives it fresh attempts on the same home."""
    dataset = tmp_path / "dataset"
    shutil.copytree(BUNDLED_DATASET, dataset)
    (dataset / "json_testcases").rename(dataset / "json_testcases.away")
    benchmark = {"max_validation_problems": 2, "max_test_problems": 2, "dataset": str(dataset)}
    config = write_config(tmp_path / "tiny.yaml", evolution=ONE_GENERATION, benchmark=benchmark)
    home = tmp_path / "home"
    args = ("evolve", "--config", str(config), "--home", str(home))

    failed = coral(model_cache, *args)
    assert failed.returncode == 1
    line = failed.stderr.strip().splitlines()[-1]
    assert line.startswith("Error: evolution stopped: shared stage: run "), line
    assert "json_testcases" in line and "Traceback" not in failed.stderr
    assert states(home)[("shared", SHARED_PARTITION)].failures == 2

    (dataset / "json_testcases.away").rename(dataset / "json_testcases")
    still = coral(model_cache, *args)  # attempts used up: a plain resume stays stopped
    assert still.returncode == 1 and "evolution stopped: shared stage" in still.stderr

    retried = coral(model_cache, *args, "--retry-failed")
    assert retried.returncode == 0, retried.stdout[-3000:] + retried.stderr[-3000:]
    assert "retry: 2 failed or interrupted run(s) no longer count as attempts" in retried.stdout
    assert "evolution finished" in retried.stdout
    assert failed_genomes(home) == []


def test_failing_genome_is_recorded_failed_then_retry_failed_reopens_it(
    tmp_path: Path, model_cache: Path, monkeypatch
):
    """A genome whose generate step raises (its genome spec, intact as a file, names an adapter
    that does not exist) is retried
    max_attempts times, then recorded as failed with fitness 0 and the evolution finishes.
    `coral retry-failed` records the retry in the instance; the sensor's next tick plans the
    genome again and `coral evolve` generates and scores it, then remakes the held-out
    evaluation and the report that used the old scores."""
    monkeypatch.setenv("CORAL_CACHE_DIR", str(model_cache))
    config = write_config(tmp_path / "tiny.yaml", evolution=ONE_GENERATION)
    h = prepare_home(config, tmp_path / "home")
    instance, eid = h.instance(), experiment_id(h.config())
    for _ in range(2):  # shared stages, then population g0000
        for request in plan_once(h, instance, h.config(), eid).requests:
            assert run_step(h, instance, request, eid)
    victim = h.store().read_record(Population, 0).genomes[1]
    spec = Path(h.store().path(layout.genome_spec(victim.genome_key)).path)
    original = spec.read_bytes()
    wrong = dataclasses.replace(victim, adapter_key="f" * 64)  # a valid record: not damage
    h.store().write_record(GenomeSpec(wrong, 0), victim.genome_key)

    args = ("evolve", "--config", str(config), "--home", str(h.path))
    first = coral(model_cache, *args)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    scores = h.store().read_record(Scores, victim.genome_key)
    assert scores.failed and scores.fitness == 0.0
    assert "adapter ffffffffffff" in scores.reason and layout.adapter_dir("f" * 64) in scores.reason
    assert states(h.path)[("generate", victim.partition_key)].failures == 2
    assert failed_genomes(h.path) == [victim.genome_key]

    spec.write_bytes(original)
    retry = coral(model_cache, "retry-failed", "--home", str(h.path))
    assert retry.returncode == 0, retry.stderr
    assert "1 genome(s) recorded as failed will be generated and scored again" in retry.stdout

    context = build_sensor_context(
        instance=Home(h.path).instance(), resources=build_resources(h.path, h.config_path)
    )
    tick = evolution_sensor(context)
    planned = [(r.tags["coral/task"], r.partition_key) for r in tick.run_requests]
    assert planned == [("generate", victim.partition_key)]

    second = coral(model_cache, *args)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert not h.store().read_record(Scores, victim.genome_key).failed
    assert failed_genomes(h.path) == []
    counts = materialization_counts(Home(h.path).instance())
    assert counts[("validation_scores", victim.partition_key)] == 2  # failure record, scores
    assert counts[("heldout_evaluation", "g0000")] == 2
    assert counts[("evolution_report", "g0000")] == 2
    others = [g.partition_key for g in h.store().read_record(Population, 0).genomes[2:]]
    assert all(counts[("validation_scores", p)] == 1 for p in others)
    status = coral(model_cache, "status", "--home", str(h.path), "--json")
    assert status.returncode == 0 and '"failed": 0' in status.stdout


def mount_tmpfs(where: Path, size: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs (a disk that fills up) needs root")
    where.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")


def fill(directory: Path) -> Path:
    """Fill the file system of ``directory`` to the last byte; returns the filler file."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as fh:  # unbuffered: every write reaches the disk
        for block in (65536, 1):
            try:
                while True:
                    fh.write(b"\0" * block)
            except OSError:
                pass
    return filler


def test_full_disk_during_the_report_stops_the_driver_without_a_failed_attempt(
    tmp_path: Path, model_cache: Path, monkeypatch
):
    """The artifact store lives on a small tmpfs that is full when the report is written: the
    driver stops with one line naming the out-of-disk error (no endless retry, no attempt
    counted); with space freed, `coral evolve` resumes and writes the report."""
    store = tmp_path / "store"
    mount_tmpfs(store, "8m")
    try:
        monkeypatch.setenv("CORAL_ARTIFACT_ROOT", str(store))
        monkeypatch.setenv("CORAL_CACHE_DIR", str(model_cache))
        config = write_config(tmp_path / "tiny.yaml", evolution=ONE_GENERATION)
        h = prepare_home(config, tmp_path / "home")
        instance, eid = h.instance(), experiment_id(h.config())
        while True:  # every step before the report, in-process
            plan = plan_once(h, instance, h.config(), eid)
            assert plan.requests, plan
            if [r.step for r in plan.requests] == [Step.REPORT]:
                break
            for request in plan.requests:
                assert run_step(h, instance, request, eid)
        filler = fill(store)

        args = ("evolve", "--config", str(config), "--home", str(h.path))
        extra = {"CORAL_ARTIFACT_ROOT": str(store)}
        stopped = coral(model_cache, *args, timeout=300, **extra)  # old code: retried forever
        assert stopped.returncode == 1, stopped.stdout[-3000:]
        line = stopped.stderr.strip().splitlines()[-1]
        assert "Traceback" not in stopped.stderr
        assert line.startswith("Error: evolution stopped: report g0000: run "), line
        assert "No space left on device" in line and "not a failed attempt" in line, line
        report = states(h.path)[("report", "g0000")]
        assert (report.failures, report.interruptions) == (0, 1)

        filler.unlink()
        resumed = coral(model_cache, *args, **extra)
        assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
        h.store().verify_dir(layout.report_dir(0))
        counts = materialization_counts(Home(h.path).instance())
        assert counts[("evolution_report", "g0000")] == 1
        assert failed_genomes(h.path) == []
    finally:
        subprocess.run(["umount", "-l", str(store)], check=False)
