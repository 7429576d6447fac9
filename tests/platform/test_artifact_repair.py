"""Issue 10, item 7: a stored artifact that is truncated, hand-edited or missing is named, made
again where that is possible (the planner treats its partition as not done) and otherwise an
error that names the file; `coral status`, `coral report` and `coral backfill` print one line
and exit 1. Each test damages a copy of a finished home and resumes it with the real CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_assertions import one_line_error
from dagster import AssetKey
from platform_helpers import coral, materialization_counts, run_step

from coral_dagster.domain.config import OBJECTIVES
from coral_dagster.domain.planner import Step, StepRequest
from coral_dagster.orchestration.home import Home
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.inputs import experiment_id
from coral_dagster.pipeline.records import HeldoutResult, Population, Scores


@pytest.fixture
def home(tmp_path: Path, finished_home: Path) -> Path:
    """A copy of the finished two-generation home (g0000 bred g0001; g0001 is final)."""
    copy = tmp_path / "home"
    shutil.copytree(finished_home, copy)
    return copy


def evolve(model_cache: Path, home: Path) -> subprocess.CompletedProcess:
    return coral(
        model_cache, "evolve", "--config", str(home / "experiment.yaml"), "--home", str(home)
    )


def inspection_commands_refuse(model_cache: Path, home: Path, *needles: str) -> None:
    for args in (("status",), ("report",), ("backfill", "--generation", "1")):
        one_line_error(coral(model_cache, *args, "--home", str(home)), *needles)


def genomes(home: Path, generation: int) -> list:
    return list(Home(home).store().read_record(Population, generation).genomes)


def latest_only(home: Path) -> list:
    """Genomes of g0001 that g0000 does not hold (their scores bred nothing)."""
    earlier = {g.genome_key for g in genomes(home, 0)}
    return [g for g in genomes(home, 1) if g.genome_key not in earlier]


def path_of(home: Path, relpath: str) -> Path:
    return Path(Home(home).store().path(relpath).path)


def truncate(path: Path) -> bytes:
    original = path.read_bytes()
    path.write_bytes(original[: len(original) // 2])
    return original


def edit_fitness(path: Path, fitness: float) -> None:
    """Change the stored fitness by hand (the checksum is left as it was)."""
    doc = json.loads(path.read_text())
    doc["data"]["fitness"] = fitness
    path.write_text(json.dumps(doc, indent=1, sort_keys=True))


def test_truncated_and_hand_edited_scores_of_the_latest_generation_are_recomputed(
    home: Path, model_cache: Path
):
    truncated, edited = latest_only(home)[:2]
    truncated_path = path_of(home, layout.scores(truncated.genome_key))
    edited_path = path_of(home, layout.scores(edited.genome_key))
    fitness = Home(home).store().read_record(Scores, edited.genome_key).fitness
    truncate(truncated_path)
    edit_fitness(edited_path, 0.99)
    before = materialization_counts(Home(home).instance())

    inspection_commands_refuse(model_cache, home, "scores/", "coral evolve")
    line = one_line_error(coral(model_cache, "status", "--home", str(home)))
    assert str(edited_path) in line or str(truncated_path) in line
    assert "(and 1 more damaged artifact(s))" in line

    resumed = evolve(model_cache, home)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    status = coral(model_cache, "status", "--home", str(home), "--json")
    assert status.returncode == 0, status.stderr
    assert all(row["best_fitness"] != 0.99 for row in json.loads(status.stdout))
    store = Home(home).store()
    assert store.read_record(Scores, edited.genome_key).fitness == fitness
    store.read_record(Scores, truncated.genome_key)  # verifies
    counts = materialization_counts(Home(home).instance())
    remade = {
        ("validation_scores", truncated.partition_key),
        ("validation_scores", edited.partition_key),
        ("heldout_evaluation", "g0001"),  # made from the old scores
        ("evolution_report", "g0001"),
    }
    assert {k for k in counts if counts[k] != before[k]} == remade
    assert all(counts[k] == 2 for k in remade)


def test_hand_edited_scores_that_bred_a_successor_stop_with_one_line(home: Path, model_cache: Path):
    victim = genomes(home, 0)[0]
    path = path_of(home, layout.scores(victim.genome_key))
    edit_fitness(path, 0.99)
    edited = path.read_bytes()

    inspection_commands_refuse(model_cache, home, str(path), "checksum mismatch")
    line = one_line_error(evolve(model_cache, home), "evolution stopped: ", str(path))
    assert "cannot be recomputed (generation g0000 already bred g0001 from it)" in line
    assert path.read_bytes() == edited  # never overwritten


def test_truncated_population_with_a_successor_is_rebuilt_identically(
    home: Path, model_cache: Path
):
    path = path_of(home, layout.population(0))
    original = truncate(path)
    before = materialization_counts(Home(home).instance())

    inspection_commands_refuse(model_cache, home, str(path), "not valid JSON", "coral evolve")
    resumed = evolve(model_cache, home)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert path.read_bytes() == original
    counts = materialization_counts(Home(home).instance())
    assert {k for k in counts if counts[k] != before[k]} == {("population", "g0000")}
    assert coral(model_cache, "status", "--home", str(home)).returncode == 0


def test_population_that_would_come_out_different_is_refused(home: Path, model_cache: Path):
    """g0001 is lost after it bred g0002, and an input it was bred from changed (a g0000 score
    rewritten with a valid checksum): rebuilding cannot prove g0001 the same, so the
    evolution stops naming the file, and nothing is written."""
    h = Home(home)
    instance, eid = h.instance(), experiment_id(h.config())
    instance.add_dynamic_partitions("generations", ["g0002"])
    assert run_step(h, instance, StepRequest(Step.POPULATION, ("g0002",), 1, 2), eid)
    carried = {g.genome_key for g in genomes(home, 1)}
    loser = next(g for g in genomes(home, 0) if g.genome_key not in carried)
    store = h.store()
    scores = store.read_record(Scores, loser.genome_key)
    best = dataclasses.replace(scores, objectives=dict.fromkeys(OBJECTIVES, 1.0), fitness=1.0)
    store.write_record(best, loser.genome_key)  # a valid record: not damage, but a change
    path = path_of(home, layout.population(1))
    truncate(path)
    damaged = path.read_bytes()

    line = one_line_error(evolve(model_cache, home), "evolution stopped: population g0001: ")
    assert f"{path}: rebuilding generation 1 gives other genomes" in line
    assert path.read_bytes() == damaged


def test_truncated_heldout_bad_report_manifest_and_corpus_manifest_are_made_again(
    home: Path, model_cache: Path
):
    h = Home(home)
    heldout = path_of(home, layout.heldout(1))
    truncate(heldout)
    report_manifest = path_of(home, f"{layout.report_dir(0)}/{layout.MANIFEST}")
    report_manifest.write_text('{"files": {"report.md": 5}}')
    event = h.instance().get_latest_materialization_event(AssetKey("training_corpus"))
    fingerprint = event.asset_materialization.metadata["fingerprint"].value
    corpus_manifest = path_of(home, f"{layout.corpus_dir(fingerprint)}/{layout.MANIFEST}")
    truncate(corpus_manifest)
    before = materialization_counts(h.instance())

    inspection_commands_refuse(model_cache, home, "coral evolve", "(and 2 more damaged")
    resumed = evolve(model_cache, home)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    store = h.store()
    store.read_record(HeldoutResult, 1)
    store.verify_dir(layout.report_dir(0))
    store.verify_dir(layout.corpus_dir(fingerprint))
    counts = materialization_counts(h.instance())
    changed = {k for k in counts if counts[k] != before[k]}
    assert changed == {
        ("problems", None),
        ("base_model", None),
        ("validation_bugs", None),  # the shared step runs again as a whole
        ("heldout_evaluation", "g0001"),
        ("evolution_report", "g0000"),
        ("evolution_report", "g0001"),  # made after the held-out evaluation it shows
    }
    assert coral(model_cache, "report", "--home", str(home)).returncode == 0


def test_truncated_adapter_training_record_is_retrained(home: Path, model_cache: Path):
    """The planner's fitness history does not read adapters' training records: a damaged one
    is retrained, not a traceback on every resume."""
    adapter_key = genomes(home, 0)[0].adapter_key
    path = path_of(home, layout.adapter_training(adapter_key))
    truncate(path)

    inspection_commands_refuse(model_cache, home, str(path), "coral evolve")
    resumed = evolve(model_cache, home)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    Home(home).store().verify_dir(layout.adapter_dir(adapter_key))
    assert coral(model_cache, "status", "--home", str(home)).returncode == 0


def test_damaged_genome_spec_of_a_genome_to_score_is_written_again(home: Path, model_cache: Path):
    """A genome still to be scored (its scores are damaged) whose spec is damaged too: building
    its population again rewrites the spec, instead of recording the genome as failed."""
    victim = latest_only(home)[0]
    truncate(path_of(home, layout.scores(victim.genome_key)))
    spec_path = path_of(home, layout.genome_spec(victim.genome_key))
    original = truncate(spec_path)

    resumed = evolve(model_cache, home)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert spec_path.read_bytes() == original
    scores = Home(home).store().read_record(Scores, victim.genome_key)
    assert not scores.failed


def test_a_torn_training_log_line_is_one_line_naming_the_file(home: Path, model_cache: Path):
    log = path_of(home, layout.TRAINING_LOG)
    with log.open("a") as fh:
        fh.write('{"adapter_key": "ab')  # a write cut short
    lines = log.read_text().count("\n")
    one_line_error(coral(model_cache, "status", "--home", str(home)), str(log), f"line {lines + 1}")
