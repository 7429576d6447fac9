"""The asset checks' logic and the failed-genome scoring path, on a real store."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from coral_dagster.domain.config import OBJECTIVES
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.checks import (
    adapter_check,
    generated_check,
    population_check,
    scores_check,
)
from coral_dagster.pipeline.records import Population, Scores
from coral_dagster.pipeline.scoring import failed_scores
from coral_dagster.pipeline.statistics import genome_table
from coral_dagster.pipeline.store import ArtifactCorrupt, ArtifactStore


@pytest.fixture
def written(tmp_path, report_inputs, store_writer):
    store = ArtifactStore(tmp_path / "artifacts")
    return store, store_writer(store, report_inputs, tmp_path / "local")


def test_scores_check_passes_on_stored_scores_and_fails_on_a_hand_edit(written):
    store, facts = written
    key = facts.records[0][0].genome_key
    assert scores_check(store, key).passed
    path = store.path(layout.scores(key))
    doc = json.loads(path.read_text())
    doc["data"]["fitness"] = 0.99  # a hand edit: the checksum no longer matches
    path.write_text(json.dumps(doc))
    result = scores_check(store, key)
    assert not result.passed
    assert "checksum mismatch" in result.metadata["error"] and key in result.metadata["error"]
    with pytest.raises(ArtifactCorrupt, match="checksum mismatch"):
        genome_table(store)  # `coral status` and `coral report` refuse it too, naming the file


def test_scores_check_fails_on_missing_or_truncated_scores(written):
    store, facts = written
    assert not scores_check(store, "0" * 64).passed
    key = facts.records[0][2].genome_key
    path = store.path(layout.scores(key))
    path.write_text(path.read_text()[:40])
    result = scores_check(store, key)
    assert not result.passed and "not valid JSON" in result.metadata["error"]


def test_adapter_check_follows_the_manifest(written):
    store, facts = written
    key = facts.adapter_of["A"]
    assert adapter_check(store, key).passed
    config = store.path(layout.adapter_dir(key), "adapter_config.json")
    config.write_text(config.read_text() + " ")
    result = adapter_check(store, key)
    assert not result.passed and "adapter_config.json" in result.metadata["error"]


def test_generated_check_wants_one_intact_patch_per_problem(tmp_path):
    from coral_dagster.pipeline.records import GeneratedCode, PatchOutput

    store = ArtifactStore(tmp_path / "store")
    output = PatchOutput("r", "gcd", "```python\n...\n```", None, "no function", 10, 3, 0.1)
    store.write_record(GeneratedCode("g" * 64, "a" * 64, (output,), 0.1), "g" * 64)
    assert generated_check(store, "g" * 64, 1).passed
    outcome = generated_check(store, "g" * 64, 2)
    assert not outcome.passed and outcome.metadata == {
        "patches": 1,
        "validation_problems": 2,
        "samples_per_problem": 1,
    }
    assert generated_check(store, "g" * 64, 1, samples=1).passed
    assert not generated_check(store, "g" * 64, 1, samples=2).passed
    assert not generated_check(store, "h" * 64, 1).passed


def test_population_check_finds_duplicate_genomes(written):
    store, facts = written
    assert population_check(store, 0).passed
    genomes = facts.records[0]
    store.write_record(Population(0, (genomes[0], genomes[1], genomes[0])), 0)
    result = population_check(store, 0)
    assert not result.passed and genomes[0].genome_key in result.metadata["duplicates"]


def test_a_failed_genome_scores_zero_with_its_reason(written):
    store, facts = written
    key = facts.records[1][2].genome_key
    scores = failed_scores(key, "generate: run abc failure")
    assert scores.failed and scores.fitness == 0.0 and scores.results == ()
    assert scores.objectives == dict.fromkeys(OBJECTIVES, 0.0)
    store.write_record(scores, key)
    assert store.read_record(Scores, key) == scores
    assert scores_check(store, key).passed
    row = genome_table(store).query("genome_key == @key").iloc[0]
    assert row["failed"] and row["fitness"] == 0.0
    with pytest.raises(ValueError, match="needs a reason"):
        failed_scores(key, "  ")


def test_scores_refuse_values_outside_the_unit_interval(written):
    _, facts = written
    scores = failed_scores(facts.records[0][0].genome_key, "x")
    with pytest.raises(ValueError, match="fitness: expected a value in"):
        replace(scores, fitness=1.5)
