"""A tiny-random evolution with `edit` patches drawn without replacement and the best-sample
bugfix objective, through Dagster and in process: both honour `patch.draws` and
`generation.bugfix`, and give the same scores."""

from __future__ import annotations

from pathlib import Path

import pytest
from platform_helpers import evolve, write_config

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.domain.scoring import genome_objectives
from coral_dagster.model.base_model import resolve_base_model
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.orchestration.home import prepare_home
from coral_dagster.pipeline.in_process import run_in_process
from coral_dagster.pipeline.inputs import load_inputs
from coral_dagster.pipeline.records import GeneratedCode, Population, Scores
from coral_dagster.pipeline.store import ArtifactStore

SAMPLES = 3


def samples_of(generated: GeneratedCode, scores: Scores) -> list[tuple[str, dict]]:
    pairs = zip(generated.outputs, scores.results, strict=True)
    return [(o.problem_name, r.objectives) for o, r in pairs]


def test_distinct_edit_draws_and_best_sample_bugfix(tmp_path: Path, model_cache: Path, monkeypatch):
    monkeypatch.setenv("CORAL_CACHE_DIR", str(model_cache))
    config = write_config(
        tmp_path / "tiny.yaml",
        patch={"format": "edit", "draws": "distinct"},
        training={"max_steps": 2, "batch_size": 2, "max_length": 640},
        generation={"batch_size": 16, "samples_per_problem": SAMPLES, "bugfix": "best"},
        evolution={"generations": 1, "elite_count": 1, "tournament_size": 2},
    )
    home = prepare_home(config, tmp_path / "home")
    assert evolve(home).finished
    store = home.store()

    best_above_mean = 0
    for genome in store.read_record(Population, 0).genomes:
        generated = store.read_record(GeneratedCode, genome.genome_key)
        scores = store.read_record(Scores, genome.genome_key)
        assert not scores.failed, scores.reason
        by_problem: dict[str, list[str]] = {}
        for output in generated.outputs:
            by_problem.setdefault(output.problem_name, []).append(output.raw_text)
        for answers in by_problem.values():
            assert len(answers) == SAMPLES and len(set(answers)) == SAMPLES  # never twice
        samples = samples_of(generated, scores)
        assert scores.objectives == pytest.approx(genome_objectives(samples, "best"), abs=1e-9)
        mean = genome_objectives(samples, "mean")["bugfix"]
        best_above_mean += scores.objectives["bugfix"] > mean
    assert best_above_mean > 0  # the setting changed what selection saw

    inputs = load_inputs(home.config())
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
    for run in history[0]:
        stored = store.read_record(Scores, run.record.genome_key).objectives
        assert run.scores.objectives == pytest.approx(stored, abs=1e-9)
