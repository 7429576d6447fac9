"""A tiny-random evolution end to end with `line` patches and the injected-bug corpus."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey
from platform_helpers import evolve, write_config

from coral_dagster.orchestration.home import prepare_home
from coral_dagster.pipeline.records import GeneratedCode, HeldoutResult, Population, Scores


def test_a_line_format_evolution_runs_to_the_end(tmp_path: Path, model_cache: Path, monkeypatch):
    monkeypatch.setenv("CORAL_CACHE_DIR", str(model_cache))
    config = write_config(
        tmp_path / "tiny.yaml",
        patch={"format": "line"},
        training={"max_steps": 2, "batch_size": 2, "max_length": 640},
        generation={"batch_size": 4, "samples_per_problem": 2},
    )
    home = prepare_home(config, tmp_path / "home")
    plan = evolve(home)
    assert plan.finished
    store, instance = home.store(), home.instance()

    corpus = instance.get_latest_materialization_event(AssetKey("training_corpus"))
    metadata = corpus.asset_materialization.metadata
    assert metadata["pairs"].value >= len(metadata["by_program"].value.records)
    operators = {r.data["operator"] for r in metadata["by_operator"].value.records}
    assert "bundled" in operators and len(operators) > 1  # injected bugs of several kinds

    for genome in store.read_record(Population, 0).genomes:
        outputs = store.read_record(GeneratedCode, genome.genome_key).outputs
        assert len(outputs) == 2 * 2  # 2 validation problems x 2 samples
        for output in outputs:
            assert (output.program is None) == bool(output.failure)
        scores = store.read_record(Scores, genome.genome_key)
        assert not scores.failed, scores.reason  # every run of the evolution succeeded
        assert len(scores.results) == len(outputs)
    assert all(r.dagster_run.is_success for r in instance.get_run_records())
    heldout = store.read_record(HeldoutResult, plan.generation)
    methods = {s.method: s for s in heldout.summaries}
    assert {"base + neutral", "standard LoRA", "buggy unchanged"} <= set(methods)
    for summary in methods.values():
        assert set(summary.pass_at_k) == {1, 2}  # samples_per_problem = 2: pass@1 and pass@n
