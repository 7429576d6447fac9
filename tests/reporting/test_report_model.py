"""Report model: validation names the culprit, JSON round-trips, missing parts are listed."""

from __future__ import annotations

import json

import pytest

from coral_dagster.reporting import (
    CacheStats,
    ExperimentReport,
    GenerationStats,
    HeldoutResults,
    ParetoEntry,
    render_json,
)


def test_full_report_round_trips_through_json(full_report: ExperimentReport) -> None:
    restored = ExperimentReport.from_dict(json.loads(render_json(full_report)))
    assert restored == full_report
    assert render_json(restored) == render_json(full_report)


def test_partial_report_round_trips_through_json(partial_report: ExperimentReport) -> None:
    restored = ExperimentReport.from_dict(json.loads(render_json(partial_report)))
    assert restored == partial_report
    assert restored.heldout is None and restored.cache is None


def test_missing_parts_lists_callers_lines_then_empty_parts(
    partial_report: ExperimentReport, full_report: ExperimentReport
) -> None:
    assert partial_report.missing_parts() == [
        "generation g0001: 2 of 4 genomes still being scored",
        "Pareto front: no scored genomes yet",
        "adapter cache statistics: not recorded yet",
        "stage timings: not recorded yet",
        "held-out evaluation: not run yet",
    ]
    assert full_report.missing_parts() == []


def test_cache_stats_from_counts() -> None:
    assert CacheStats(3, 5, 5 / 8, 10.0).hit_rate == 5 / 8


def test_json_is_stable_and_sorted(full_report: ExperimentReport) -> None:
    text = render_json(full_report)
    assert text == render_json(full_report)
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert json.loads(text)["schema_version"] == 1


def _objectives(**overrides: float) -> dict[str, float]:
    base = {"bugfix": 0.5, "syntax": 1.0, "style": 0.8, "security": 1.0, "runtime": 0.9}
    return {**base, **overrides}


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda: GenerationStats(1, 0.5, 0.3, 0.4, n_genomes=4, n_failed=5),
            "generation 1: n_failed 5 > n_genomes 4",
        ),
        (
            lambda: GenerationStats(2, 0.3, 0.5, 0.4, n_genomes=4, n_failed=0),
            "generation 2: mean_fitness 0.5 > best_fitness 0.3",
        ),
        (
            lambda: GenerationStats(3, float("nan"), None, None, 4, 0),
            "generation 3: best_fitness must be finite",
        ),
        (
            lambda: ParetoEntry("abc", "def", {"bugfix": 0.5}, 0.5, {}, {}),
            r"Pareto entry 'abc': objectives: missing keys "
            r"\['runtime', 'security', 'style', 'syntax'\]",
        ),
        (
            lambda: ParetoEntry("abc", "def", _objectives(speed=1.0), 0.5, {}, {}),
            r"unknown keys \['speed'\]",
        ),
        (
            lambda: ParetoEntry("abc", "", _objectives(), 0.5, {}, {}),
            "Pareto entry 'abc': adapter_key must be a non-empty string",
        ),
        (lambda: CacheStats(1, 1, 1.5, 0.0), r"hit_rate must be in \[0, 1\]"),
        (lambda: HeldoutResults(summaries=()), "at least one method summary"),
        (
            lambda: ExperimentReport(config={}, stage_seconds={"train": -1.0}),
            r"stage_seconds\['train'\] must be >= 0",
        ),
        (lambda: ExperimentReport(config={"when": object()}), "config is not plain JSON"),
        (lambda: ExperimentReport(config={}, missing=("",)), "missing must hold non-empty strings"),
        (
            lambda: ExperimentReport(
                config={},
                generations=(
                    GenerationStats(1, None, None, None, 4, 4),
                    GenerationStats(0, None, None, None, 4, 4),
                ),
            ),
            "g0000 follows g0001",
        ),
    ],
)
def test_invalid_parts_fail_naming_the_culprit(build, match) -> None:
    with pytest.raises(ValueError, match=match):
        build()


def test_duplicate_pareto_genomes_are_rejected(full_report: ExperimentReport) -> None:
    entry = full_report.pareto_front[0]
    with pytest.raises(ValueError, match=entry.genome_key):
        ExperimentReport(config={}, pareto_front=(entry, entry))


def test_comparison_must_name_known_methods(full_report: ExperimentReport) -> None:
    heldout = full_report.heldout
    assert heldout is not None
    with pytest.raises(ValueError, match=r"names unknown \['base\+neutral'\]"):
        HeldoutResults(summaries=heldout.summaries[:1], comparisons=heldout.comparisons)


def test_from_dict_rejects_unknown_keys_and_other_schema(full_report: ExperimentReport) -> None:
    data = json.loads(render_json(full_report))
    with pytest.raises(
        ValueError, match=r"experiment report: missing keys \[\], unknown keys \['extra'\]"
    ):
        ExperimentReport.from_dict({**data, "extra": 1})
    with pytest.raises(ValueError, match="schema_version 99"):
        ExperimentReport.from_dict({**data, "schema_version": 99})
    bad_generation = {**data["generations"][0], "best": 1.0}
    with pytest.raises(ValueError, match=r"generation stats: .*unknown keys \['best'\]"):
        ExperimentReport.from_dict({**data, "generations": [bad_generation]})
