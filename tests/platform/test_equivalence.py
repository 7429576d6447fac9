"""Invariant 4: the Dagster pipeline and the in-process composition compute the same thing."""

from __future__ import annotations

from pathlib import Path

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.domain.config import load_config
from coral_dagster.model.base_model import resolve_base_model
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.orchestration.home import Home
from coral_dagster.pipeline.in_process import run_in_process
from coral_dagster.pipeline.inputs import load_inputs
from coral_dagster.pipeline.records import GeneratedCode, Population, Scores
from coral_dagster.pipeline.store import ArtifactStore


def test_dagster_and_in_process_give_identical_results(
    tmp_path: Path, finished_home: Path, model_cache: Path
):
    config = load_config(Home(finished_home).config_path)
    inputs = load_inputs(config)
    store = ArtifactStore(tmp_path / "store")
    base = resolve_base_model(config.model.base_model, model_cache / "models")
    history = run_in_process(
        inputs,
        store,
        base,
        PatchGenerator(base, device="cpu"),
        Evaluator(inputs.problem_set, config.sandbox),
        tmp_path / "locks",
        tmp_path / "adapters",
        generations=config.evolution.generations,
    )
    dagster_store = Home(finished_home).store()
    for generation, runs in history.items():
        population = dagster_store.read_record(Population, generation)
        assert [r.record for r in runs] == list(population.genomes)
        for run in runs:
            key = run.record.genome_key
            mine_scores, dagster_scores = (
                s.read_record(Scores, key) for s in (store, dagster_store)
            )
            assert mine_scores.objectives == dagster_scores.objectives
            assert mine_scores.fitness == dagster_scores.fitness
            assert (mine_scores.passed, mine_scores.total) == (
                dagster_scores.passed,
                dagster_scores.total,
            )
            generated = dagster_store.read_record(GeneratedCode, key)
            mine = store.read_record(GeneratedCode, key)
            assert [o.raw_text for o in mine.outputs] == [o.raw_text for o in generated.outputs]
            assert [o.program for o in mine.outputs] == [o.program for o in generated.outputs]
