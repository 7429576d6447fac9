"""The statistics table: one row per genome slot, the one source of fitness and cache figures."""

from __future__ import annotations

import math

import pytest

from coral_dagster.domain.config import OBJECTIVES
from coral_dagster.pipeline.statistics import (
    COLUMNS,
    best_fitness_history,
    cache_summary,
    generation_table,
    genome_table,
    pareto_front,
)
from coral_dagster.pipeline.store import ArtifactStore


@pytest.fixture
def store_and_facts(tmp_path, report_inputs, store_writer):
    def make(**options):
        store = ArtifactStore(tmp_path / "artifacts")
        return store, store_writer(store, report_inputs, tmp_path / "local", **options)

    return make


def test_a_row_per_slot_with_scores_ranks_and_adapter_reuse(store_and_facts):
    store, facts = store_and_facts()
    table = genome_table(store)
    assert tuple(table.columns) == COLUMNS
    assert list(table["generation"]) == [0] * 4 + [1] * 4
    assert list(table["genome_key"]) == [r.genome_key for g in (0, 1) for r in facts.records[g]]
    # Genes per slot: A, A, B, C | A (elite), B, D, A; reuse = an earlier slot needed the key.
    assert list(table["adapter_reused"]) == [False, True, False, False, True, True, False, True]
    assert table["scored"].all()
    failed = table[table["failed"]]
    assert list(failed["genome_key"]) == sorted(facts.failed)
    assert (failed[list(OBJECTIVES)] == 0.0).all(axis=None) and (failed["fitness"] == 0.0).all()
    for row in table.itertuples():
        assert row.fitness == pytest.approx(facts.fitness[row.genome_key])
    # Generation 1's front: the elite (best bugfix) and slot 1 (best style and runtime).
    front = pareto_front(table, 1)
    assert list(front["genome_key"]) == [
        facts.records[1][0].genome_key,
        facts.records[1][1].genome_key,
    ]
    assert set(table[table["generation"] == 1]["rank"]) >= {0}
    assert (table["crowding"] >= 0).all()


def test_generation_figures_and_the_one_hit_rate(store_and_facts):
    store, facts = store_and_facts()
    table = genome_table(store)
    summary = generation_table(table)
    assert list(summary["genomes"]) == [4, 4]
    assert list(summary["failed"]) == [1, 0]
    assert list(summary["pending"]) == [0, 0]
    assert list(summary["hit_rate"]) == [0.25, 0.75]  # reused slots / slots
    for row in summary.itertuples():
        fits = [facts.fitness[r.genome_key] for r in facts.records[row.generation]]
        assert row.best_fitness == pytest.approx(max(fits))
        assert row.mean_fitness == pytest.approx(sum(fits) / len(fits))
    cache = cache_summary(table)
    assert (cache.slots, cache.adapters, cache.reused) == (8, 4, 4)
    assert cache.hit_rate == 0.5
    assert cache.seconds_saved == pytest.approx(100 + 100 + 40 + 100)  # A, A, B, A reused
    assert best_fitness_history(table) == pytest.approx(list(summary["best_fitness"]))


def test_unscored_genomes_are_pending_and_end_the_history(store_and_facts):
    store, _ = store_and_facts(unscored=((1, 2),), untrained=("D",), heldout=False)
    table = genome_table(store)
    row = table[(table["generation"] == 1) & (table["slot"] == 2)].iloc[0]
    assert not row["scored"] and math.isnan(row["fitness"]) and math.isnan(row["rank"])
    assert math.isnan(row["training_seconds"])  # D has no training record yet
    summary = generation_table(table)
    assert list(summary["pending"]) == [0, 1] and list(summary["complete"]) == [True, False]
    assert len(best_fitness_history(table)) == 1  # only generation 0 is complete


def test_an_empty_store_has_an_empty_table(tmp_path):
    table = genome_table(ArtifactStore(tmp_path / "empty"))
    assert table.empty and tuple(table.columns) == COLUMNS
    assert generation_table(table).empty
    assert cache_summary(table).hit_rate == 0.0
    assert best_fitness_history(table) == []
