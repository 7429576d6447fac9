"""A realistic experiment report, built from the real domain objects and statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from coral_dagster.domain.config import config_to_dict, load_config
from coral_dagster.domain.genome import CASeed, CheapKnobs, HeavyGenes
from coral_dagster.domain.hashing import adapter_key, content_hash, genome_key
from coral_dagster.domain.heldout import compare_methods, summarize_method
from coral_dagster.reporting import (
    CacheStats,
    ExperimentReport,
    GenerationStats,
    HeldoutResults,
    ParetoEntry,
)

QUICK_YAML = Path(__file__).resolve().parents[2] / "configs" / "quick.yaml"


def _pareto_entry(rank: int, rule: str, objectives: dict[str, float]) -> ParetoEntry:
    genes = HeavyGenes(
        rank=rank,
        alpha=2.0 * rank,
        dropout=0.05,
        target_modules=("q_proj", "v_proj"),
        adapter_type="lora" if rank == 4 else "dora",
        learning_rate=3e-4,
    )
    seed = CASeed(grid=((0, 1, 0), (1, 1, 0), (0, 0, 1)), rule=rule, steps=12)
    knobs = CheapKnobs(
        temperature=0.35 + rank / 100,
        top_p=0.9,
        top_k=40,
        repetition_penalty=1.05,
        max_new_tokens=192,
        do_sample=True,
    )
    a_key = adapter_key(genes, "smollm2-135m", content_hash("train-split"), {"version": 1})
    weights = {"bugfix": 0.6, "syntax": 0.1, "style": 0.1, "security": 0.1, "runtime": 0.1}
    return ParetoEntry(
        genome_key=genome_key(a_key, seed, knobs, content_hash("validation-context")),
        adapter_key=a_key,
        objectives=objectives,
        fitness=sum(weights[o] * v for o, v in objectives.items()),
        knobs=knobs.to_dict(),
        genes=genes.to_dict(),
    )


@pytest.fixture(scope="session")
def full_report() -> ExperimentReport:
    config = config_to_dict(load_config(QUICK_YAML))
    generations = (
        GenerationStats(
            0, best_fitness=0.412, mean_fitness=0.281, diversity=0.74, n_genomes=4, n_failed=1
        ),
        GenerationStats(
            1, best_fitness=0.538, mean_fitness=0.402, diversity=0.61, n_genomes=4, n_failed=0
        ),
        GenerationStats(
            2, best_fitness=0.603, mean_fitness=0.497, diversity=0.55, n_genomes=4, n_failed=0
        ),
    )
    front = (
        _pareto_entry(
            8,
            "B3/S23",
            {"bugfix": 0.5, "syntax": 1.0, "style": 0.82, "security": 1.0, "runtime": 0.9},
        ),
        _pareto_entry(
            4,
            "B36/S23",
            {"bugfix": 0.25, "syntax": 1.0, "style": 0.95, "security": 1.0, "runtime": 0.97},
        ),
        _pareto_entry(
            16,
            "B2/S",
            {"bugfix": 0.75, "syntax": 0.75, "style": 0.6, "security": 0.9, "runtime": 0.7},
        ),
    )
    problems = ["bitcount", "gcd", "sieve", "lis", "kheapsort", "flatten"]
    rng = np.random.default_rng(2024)
    evolved = {p: list(rng.choice([0.0, 0.5, 1.0], size=5, p=[0.3, 0.3, 0.4])) for p in problems}
    base = {p: list(rng.choice([0.0, 0.5, 1.0], size=5, p=[0.5, 0.3, 0.2])) for p in problems}
    stats_rng = np.random.default_rng(config["heldout"]["seed"])
    summaries = (
        summarize_method("evolved", evolved, rng=stats_rng, resamples=1000),
        summarize_method("base+neutral", base, rng=stats_rng, resamples=1000),
    )
    comparisons = compare_methods(summaries, stats_rng, reference="base+neutral")
    return ExperimentReport(
        config=config,
        generations=generations,
        pareto_front=front,
        cache=CacheStats.from_counts(
            adapters_trained=3, adapters_reused=5, compute_seconds_saved=1234.5
        ),
        stage_seconds={"train": 812.4, "generate": 301.2, "test": 44.9, "select": 0.3},
        heldout=HeldoutResults(summaries=summaries, comparisons=tuple(comparisons)),
    )


@pytest.fixture(scope="session")
def partial_report(full_report: ExperimentReport) -> ExperimentReport:
    """Generation 0 scored, nothing else yet; the caller adds one line of its own."""
    return ExperimentReport(
        config=full_report.config,
        generations=full_report.generations[:1],
        missing=("generation g0001: 2 of 4 genomes still being scored",),
    )
