"""Invariant 4: the Dagster pipeline and the in-process composition compute the same thing."""

from __future__ import annotations

from pathlib import Path

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.context import load_inputs
from coral_dagster.domain.config import load_config
from coral_dagster.driver import Home
from coral_dagster.model.base_model import resolve_base_model
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.stages import load_population, load_scores, run_in_process
from coral_dagster.storage import ArtifactStore


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
    for generation, rows in history.items():
        records = load_population(dagster_store, generation)
        assert [r["genome_key"] for r in rows] == [r["genome_key"] for r in records]
        assert [r["adapter_key"] for r in rows] == [r["adapter_key"] for r in records]
        for row in rows:
            dagster_scores = load_scores(dagster_store, row["genome_key"])
            assert row["scores"]["objectives"] == dagster_scores["objectives"]
            assert row["scores"]["fitness"] == dagster_scores["fitness"]
            generated = dagster_store.read_json(f"generated/{row['genome_key']}.json")
            mine = store.read_json(f"generated/{row['genome_key']}.json")
            assert [o["raw_text"] for o in mine["outputs"]] == [
                o["raw_text"] for o in generated["outputs"]
            ]
            assert [o["program"] for o in mine["outputs"]] == [
                o["program"] for o in generated["outputs"]
            ]
