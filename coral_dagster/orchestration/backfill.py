"""Dagster backfills of one generation's missing or failed partitions (``coral backfill``).

A backfill targets one job at a time (steps of one job share a partition set): the generation's
missing adapters (the ``adapter`` step's job) and its genomes without scores or scored as failed
(the job of the ``generate`` and ``score`` steps). It is launched with Dagster's public
``dagster job backfill`` command on the home's workspace (code location ``coral``, the one
``coral ui`` serves), which submits one run per partition to the instance; the daemon of
``dagster dev`` (or the run launcher) runs them. Genome runs whose adapter is still
missing fail and can be backfilled again once the adapters are done. The runs carry the
experiment, step, task and generation tags and Dagster's ``dagster/partition`` tag, so the
planner sees them in flight or failed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from dagster import DagsterInstance

from coral_dagster.domain.planner import Step, generation_key
from coral_dagster.orchestration.facts import done_steps
from coral_dagster.orchestration.home import Home
from coral_dagster.orchestration.partitions import partition_set_of
from coral_dagster.orchestration.placement import run_tags_for
from coral_dagster.orchestration.run_tags import TAG_EXPERIMENT, TAG_GENERATION, TAG_STEP, TAG_TASK
from coral_dagster.orchestration.steps import STEPS, job_compute
from coral_dagster.pipeline.population import load_population
from coral_dagster.pipeline.records import Scores
from coral_dagster.pipeline.store import ArtifactStore

BACKFILL_TAG = "coral/backfill"
LAUNCHED = re.compile(r"Launched backfill job `([^`]+)`")


class BackfillError(RuntimeError):
    """A backfill cannot be launched; the message says why."""


@dataclass(frozen=True)
class Backfill:
    """One launched backfill: its id, job and partitions (one queued run per partition)."""

    backfill_id: str
    job: str
    partitions: tuple[str, ...]


def missing_partitions(
    instance: DagsterInstance, store: ArtifactStore, generation: int
) -> dict[Step, list[str]]:
    """Of ``generation``: adapter partitions without a materialization (``Step.ADAPTER``), and
    genome partitions without scores or scored as failed (``Step.GENERATE``)."""
    done = done_steps(instance)
    genomes = load_population(store, generation).genomes
    adapters = list(
        dict.fromkeys(
            g.adapter_partition_key
            for g in genomes
            if g.adapter_partition_key not in done[Step.ADAPTER]
        )
    )
    unscored = [
        g.partition_key
        for g in genomes
        if g.partition_key not in done[Step.SCORE] or store.read_record(Scores, g.genome_key).failed
    ]
    return {Step.ADAPTER: adapters, Step.GENERATE: list(dict.fromkeys(unscored))}


def check_generation(instance: DagsterInstance, generation: int) -> None:
    """A generation can be backfilled when its population exists and it bred no successor."""
    populations = done_steps(instance)[Step.POPULATION]
    if generation < 0 or generation_key(generation) not in populations:
        built = sorted(populations)
        raise BackfillError(
            f"generation {generation} does not exist yet (populations: "
            f"{', '.join(built) or 'none'}); run `coral evolve` to create it"
        )
    successor = generation_key(generation + 1)
    if successor in populations:
        raise BackfillError(
            f"generation {generation} already bred {successor}: re-scoring it would change the "
            "scores its successor was selected from; backfill the latest generation instead"
        )


def launch_generation_backfill(
    instance: DagsterInstance,
    store: ArtifactStore,
    generation: int,
    experiment_id: str,
    home: Path,
) -> list[Backfill]:
    """Launch backfills for the generation's missing adapters and unscored genomes."""
    check_generation(instance, generation)
    missing = missing_partitions(instance, store, generation)
    launched = []
    for step, keys in missing.items():
        if not keys:
            continue
        name = partition_set_of(step)
        existing = set(instance.get_dynamic_partitions(name))
        instance.add_dynamic_partitions(name, [k for k in keys if k not in existing])
        job = STEPS[step].job
        tags = {
            **run_tags_for(job_compute(job)),
            TAG_EXPERIMENT: experiment_id,
            TAG_STEP: str(step),
            TAG_TASK: str(step),
            TAG_GENERATION: str(generation),
            BACKFILL_TAG: "cli",
        }
        launched.append(_dagster_job_backfill(job, keys, tags, home))
    return launched


def _dagster_job_backfill(job: str, keys: list[str], tags: dict[str, str], home: Path) -> Backfill:
    command = [
        sys.executable,
        "-m",
        "dagster",
        "job",
        "backfill",
        "-w",
        str(Home(home).prepare_dagster_home() / "workspace.yaml"),
        "-j",
        job,
        "--partitions",
        ",".join(keys),
        "--tags",
        json.dumps(tags, sort_keys=True),
        "--noprompt",
    ]
    env = {**os.environ, "CORAL_HOME": str(home), "DAGSTER_HOME": os.environ["DAGSTER_HOME"]}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    launched = LAUNCHED.search(done.stdout)
    if done.returncode != 0 or launched is None:
        output = (done.stderr.strip() or done.stdout.strip() or "no output").splitlines()
        raise BackfillError(f"`dagster job backfill -j {job}` failed: {output[-1]}")
    return Backfill(backfill_id=launched.group(1), job=job, partitions=tuple(keys))
