"""A tiny-random evolution whose validation set holds injected hard bugs, through Dagster and in
process: the `validation_bugs` asset builds them once, every genome is generated and scored on
them (running as their program's module), and both paths give the same scores."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from dagster import AssetKey
from platform_helpers import evolve, write_config

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.model.base_model import resolve_base_model
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.orchestration.home import prepare_home
from coral_dagster.pipeline.in_process import run_in_process
from coral_dagster.pipeline.inputs import load_inputs
from coral_dagster.pipeline.records import GeneratedCode, Population, Scores, ValidationBugs
from coral_dagster.pipeline.repair import candidate_scores, repair_tasks
from coral_dagster.pipeline.store import ArtifactStore
from coral_dagster.pipeline.validation_bugs import evaluation_inputs

SAMPLES = 2


def test_hard_validation_bugs_join_selection(tmp_path: Path, model_cache: Path, monkeypatch):
    monkeypatch.setenv("CORAL_CACHE_DIR", str(model_cache))
    config = write_config(
        tmp_path / "tiny.yaml",
        patch={"format": "edit", "draws": "distinct", "max_candidates": 40},
        benchmark={
            "max_validation_problems": 2,
            "max_test_problems": 2,
            "validation_bugs": {"mutants_per_program": 4, "seed": 1},
        },
        training={"max_steps": 2, "batch_size": 2, "max_length": 640},
        generation={"batch_size": 16, "samples_per_problem": SAMPLES, "bugfix": "best"},
        evolution={"generations": 1, "elite_count": 1, "tournament_size": 2},
    )
    home = prepare_home(config, tmp_path / "home")
    assert evolve(home).finished
    store = home.store()
    inputs = load_inputs(home.config())
    record = store.read_record(ValidationBugs, inputs.validation_bugs_fingerprint)
    assert record.bugs, record.funnel  # the tiny-random model ranks a fix first rarely
    funnel = record.funnel
    assert funnel["sampled"] >= funnel["real"] >= funnel["reachable"] >= funnel["hard"]
    assert funnel["hard"] == len(record.bugs) and funnel["sampled"] <= 4 * 2

    own = inputs.own_validation_names
    evaluated = evaluation_inputs(store, inputs)
    keys = [b.key for b in record.bugs]
    assert evaluated.validation_names == own + tuple(keys)
    assert {b.program for b in record.bugs} <= set(own)  # validation programs only
    assert all(k.split("~")[0] in own and k.split("~")[1].isdigit() for k in keys)

    # Each kept bug is a real bug whose fix is a candidate and whose top candidate fails.
    generator = PatchGenerator(resolve_base_model("tiny-random", model_cache / "models"))
    tasks = repair_tasks(evaluated.problem_set, keys, inputs.config.patch)
    evaluator = Evaluator(evaluated.problem_set, inputs.config.sandbox)
    for bug in record.bugs:
        problem = evaluated.problem_set.problems[bug.key]
        assert problem.program == bug.program and problem.buggy_source == bug.buggy_source
        task = tasks[bug.key]
        scores = candidate_scores(generator, task, inputs.config.patch, None, 16)
        top = min(range(len(scores)), key=lambda k: (-scores[k], k))
        correct = ast.dump(ast.parse(problem.correct_source))
        assert ast.dump(ast.parse(task.candidates[top].program)) != correct
        assert any(ast.dump(ast.parse(c.program)) == correct for c in task.candidates)
        buggy, top_result, fixed = evaluator.evaluate_many(
            [
                (bug.key, bug.buggy_source),
                (bug.key, task.candidates[top].program),
                (bug.key, problem.correct_source),
            ]
        )
        assert any(t.verdict in ("fail", "error") for t in buggy.tests)
        assert any(t.verdict in ("fail", "error") for t in top_result.tests)
        assert fixed.passed == fixed.total  # runs as its program's module

    # Every genome was generated and scored on the bugs too.
    for genome in store.read_record(Population, 0).genomes:
        generated = store.read_record(GeneratedCode, genome.genome_key)
        assert [o.problem_name for o in generated.outputs[::SAMPLES]] == list(
            evaluated.validation_names
        )
        scores = store.read_record(Scores, genome.genome_key)
        assert not scores.failed, scores.reason
        assert len(scores.results) == SAMPLES * len(evaluated.validation_names)

    instance = home.instance()
    event = instance.get_latest_materialization_event(AssetKey("validation_bugs"))
    assert event is not None
    metadata = event.asset_materialization.metadata
    assert metadata["bugs"].value == len(record.bugs)
    assert metadata["fingerprint"].value == inputs.validation_bugs_fingerprint

    # A deleted record is damage of the shared step: resuming builds the same bugs again.
    store.path(ValidationBugs.relpath(record.fingerprint)).unlink()
    assert evolve(home).finished
    assert store.read_record(ValidationBugs, record.fingerprint) == record
    assert len(instance.fetch_materializations(AssetKey("validation_bugs"), limit=10).records) == 2

    # In process: the same bugs (built anew in another store) and the same scores.
    base = resolve_base_model("tiny-random", model_cache / "models")
    mine = ArtifactStore(tmp_path / "in-process")
    history = run_in_process(
        inputs,
        mine,
        base,
        PatchGenerator(base, device="cpu"),
        Evaluator(inputs.problem_set, inputs.config.sandbox),
        tmp_path / "locks",
        tmp_path / "adapters",
        generations=1,
    )
    assert mine.read_record(ValidationBugs, inputs.validation_bugs_fingerprint) == record
    for run in history[0]:
        stored = store.read_record(Scores, run.record.genome_key)
        assert run.scores.objectives["bugfix"] == pytest.approx(
            stored.objectives["bugfix"], abs=1e-9
        )
        assert [r.passed for r in run.scores.results] == [r.passed for r in stored.results]
