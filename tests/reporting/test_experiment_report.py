"""The report builder on a realistic artifact store: statistics, cache, timings, missing parts."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from coral_dagster.domain.config import config_to_dict, parse_config
from coral_dagster.domain.planner import generation_key
from coral_dagster.pipeline.records import HeldoutResult
from coral_dagster.pipeline.report import RunTiming, build_experiment_report, last_generation
from coral_dagster.pipeline.statistics import generation_table, genome_table, stored_generations
from coral_dagster.pipeline.store import ArtifactStore
from coral_dagster.reporting import CacheStats, ExperimentReport, render_json, render_markdown

RUNS = [  # (step, generation, seconds); None = still in flight
    ("shared", 0, 3.0),
    ("population", 0, 1.0),
    ("adapter", 0, 10.0),
    ("adapter", 0, 20.0),
    ("adapter", 0, 5.0),
    *[("genome", 0, 2.0)] * 4,
    ("genome", 0, 7.5),  # a failed attempt still took wall-clock time
    ("report", 0, 0.5),
    ("population", 1, 1.5),
    ("adapter", 1, 6.0),
    *[("genome", 1, 2.5)] * 3,
    ("heldout", 1, 30.0),
    ("report", 1, 0.75),
]


def _runs(rows=RUNS) -> list[RunTiming]:
    return [
        RunTiming(
            run_id=f"run-{i}",
            step=step,
            generation=generation,
            status="STARTED" if seconds is None else "SUCCESS",
            in_flight=seconds is None,
            seconds=seconds,
        )
        for i, (step, generation, seconds) in enumerate(rows)
    ]


def _grid_diversity_by_hand(records) -> float:
    grids = [np.asarray(r.seed.grid).ravel() for r in records]
    pairs = list(itertools.combinations(grids, 2))
    return float(np.mean([np.mean(a != b) for a, b in pairs]))


@pytest.fixture
def finished(tmp_path, report_inputs, store_writer):
    store = ArtifactStore(tmp_path / "artifacts")
    facts = store_writer(store, report_inputs, tmp_path / "local")
    return store, facts


def test_finished_experiment_report(finished):
    store, facts = finished
    report = build_experiment_report(store, facts.config, _runs())

    assert report.missing == ()
    assert report.missing_parts() == []
    assert [g.generation for g in report.generations] == [0, 1]
    for stats in report.generations:
        records = facts.records[stats.generation]
        fits = [facts.fitness[r.genome_key] for r in records]
        assert stats.best_fitness == pytest.approx(max(fits))
        assert stats.mean_fitness == pytest.approx(sum(fits) / 4)  # the failed genome counts 0
        assert stats.diversity == pytest.approx(_grid_diversity_by_hand(records))
    # What `coral status` shows comes from the same table.
    summary = generation_table(genome_table(store))
    assert list(summary["best_fitness"]) == [g.best_fitness for g in report.generations]
    assert list(summary["failed"]) == [g.n_failed for g in report.generations]
    assert report.generations[0].n_failed == 1 and report.generations[1].n_failed == 0
    # 0.6*0.5 + 0.1*(1 + 0.7 + 1 + 0.8) = 0.65: the elite, best in both generations
    assert report.generations[1].best_fitness == pytest.approx(0.65)

    elite, style_best = facts.records[1][0], facts.records[1][1]
    assert [p.genome_key for p in report.pareto_front] == [
        elite.genome_key,
        style_best.genome_key,
    ]
    front = report.pareto_front[1]
    assert front.adapter_key == facts.adapter_of["B"]
    assert front.genes == style_best.genes.to_dict()
    assert front.knobs == style_best.knobs.to_dict()
    assert front.objectives["style"] == 0.95

    assert report.cache == CacheStats(
        adapters_trained=4, adapters_reused=4, hit_rate=0.5, compute_seconds_saved=340.0
    )
    assert report.stage_seconds == pytest.approx(
        {
            "shared": 3.0,
            "population": 2.5,
            "adapter": 41.0,
            "genome": 23.0,
            "report": 1.25,
            "heldout": 30.0,
        }
    )
    heldout = store.read_record(HeldoutResult, 1)  # as stored (floats to 12 significant digits)
    assert [s.method for s in heldout.summaries] == [s.method for s in facts.heldout.summaries]
    assert report.heldout.summaries == heldout.summaries
    assert report.heldout.comparisons == heldout.comparisons
    assert report.config == config_to_dict(facts.config)
    assert ExperimentReport.from_dict(json.loads(render_json(report))) == report


def test_report_of_an_earlier_generation_covers_only_that_far(finished):
    store, facts = finished
    report = build_experiment_report(store, facts.config, _runs(), generation=0)
    assert [g.generation for g in report.generations] == [0]
    # Generation 0's front: slot 0 (best bugfix) and slot 2 (best style); slot 3 is dominated by
    # neither on runtime, so it is there too; the failed genome (all zeros) is not.
    assert {p.genome_key for p in report.pareto_front} == {
        facts.records[0][i].genome_key for i in (0, 2, 3)
    }
    # Slots A, A, B, C: 3 trained, 1 reused (A's 100 s).
    assert report.cache == CacheStats(3, 1, 0.25, 100.0)
    assert report.stage_seconds["adapter"] == 35.0
    assert "heldout" not in report.stage_seconds
    assert report.heldout is None
    assert report.missing == (
        "held-out evaluation: runs on the final generation (g0001, or earlier if early stopping "
        "ends the evolution)",
    )


def test_unfinished_experiment_says_what_is_missing(tmp_path, report_inputs, store_writer):
    store = ArtifactStore(tmp_path / "artifacts")
    facts = store_writer(
        store,
        report_inputs,
        tmp_path / "local",
        unscored=((1, 2), (1, 3)),
        untrained=("D",),
        heldout=False,
    )
    runs = _runs([*RUNS[:-2], ("genome", 1, None), ("adapter", 1, None)])
    report = build_experiment_report(store, facts.config, runs)

    adapter_d = facts.adapter_of["D"][:12]
    assert report.missing == (
        "generation g0001: 2 of 4 genomes not scored yet",
        f"adapter {adapter_d}: no training record (training pending or failed; 1 genome slot "
        "use it)",
        "stage timings: 2 runs still in flight (adapter, genome)",
        "held-out evaluation: not run yet on g0001",
    )
    latest = report.generations[1]
    # scored so far: the elite (0.65) and slot 1 (0.6 * 0.25 + 0.1 * 3.92 = 0.542)
    assert (latest.best_fitness, latest.mean_fitness) == pytest.approx((0.65, 0.596))
    assert latest.n_genomes == 4
    # The front covers the scored genomes; D's slot needs a new adapter (not trained yet).
    assert len(report.pareto_front) == 2
    assert report.cache == CacheStats(4, 4, 0.5, 340.0)
    assert report.stage_seconds["genome"] == 23.0  # the two runs in flight add nothing yet
    assert report.stage_seconds["adapter"] == 41.0 and "heldout" not in report.stage_seconds

    markdown = render_markdown(report)
    missing = markdown.split("\n## Missing\n", 1)[1].split("\n## ", 1)[0]
    assert missing.strip().splitlines() == [f"- {line}" for line in report.missing]
    assert json.loads(render_json(report))["missing"] == list(report.missing)


def test_nothing_built_yet(tmp_path):
    store = ArtifactStore(tmp_path / "artifacts")
    config = parse_config({"name": "empty", "evolution": {"generations": 3}})
    assert stored_generations(store) == 0
    report = build_experiment_report(store, config, [])
    assert report.generations == () and report.pareto_front == () and report.cache is None
    assert report.missing == (
        "generations not started yet: g0000, g0001, g0002 (unless early stopping ends the "
        "evolution)",
        "fitness per generation: no generation has been scored yet",
        "Pareto front: no scored genomes yet",
        "adapter cache statistics: not recorded yet",
        "stage timings: not recorded yet",
        "held-out evaluation: not run yet",
    )
    assert "## Missing" in render_markdown(report)


def test_first_generation_in_progress(tmp_path, report_inputs, store_writer):
    store = ArtifactStore(tmp_path / "artifacts")
    facts = store_writer(
        store,
        report_inputs,
        tmp_path / "local",
        unscored=tuple((0, s) for s in range(4)),
        untrained=("A", "B", "C"),
        generations=1,
    )
    report = build_experiment_report(store, facts.config, _runs([("population", 0, 1.0)]))
    (stats,) = report.generations
    assert stats.best_fitness is None and stats.mean_fitness is None and stats.n_failed == 0
    assert stats.diversity == pytest.approx(_grid_diversity_by_hand(facts.records[0]))
    # Slots A, A, B, C: one slot reuses A's adapter (not trained yet: nothing saved so far).
    assert report.pareto_front == () and report.cache == CacheStats(3, 1, 0.25, 0.0)
    assert report.stage_seconds == {"population": 1.0}
    assert report.missing[0] == "generation g0000: 4 of 4 genomes not scored yet"
    assert report.missing[1] == (
        "generations not started yet: g0001 (unless early stopping ends the evolution)"
    )
    assert "Pareto front: no scored genomes yet" in report.missing


def test_generation_beyond_the_store_is_an_error(finished):
    store, facts = finished
    with pytest.raises(ValueError, match=r"no population for generation 2: the store holds 2 "):
        build_experiment_report(store, facts.config, [], generation=2)


def test_last_generation_follows_early_stopping():
    config = parse_config({"evolution": {"generations": 10, "patience": 2, "min_delta": 0.01}})
    assert last_generation(config, []) == 9
    assert last_generation(config, [0.1, 0.2, 0.3]) == 9  # still improving
    # No gain > 0.01 in the 2 generations after g0001: the evolution ends after g0003.
    assert last_generation(config, [0.1, 0.3, 0.305, 0.3, 0.9]) == 3
    short = parse_config({"evolution": {"generations": 2, "patience": 1}})
    assert last_generation(short, [0.5, 0.5]) == 1
    assert generation_key(last_generation(short, [])) == "g0001"
