"""A realistic experiment report, and a realistic artifact store, from the real domain objects.

``write_experiment_store`` writes what the stages write for a 2-generation, 4-genome experiment
(populations, scores, adapters' training records, the held-out result) so the report builder can
be tested without running models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from coral_dagster.domain.config import ExperimentConfig, config_to_dict, load_config, parse_config
from coral_dagster.domain.genome import CASeed, CheapKnobs, Genome, HeavyGenes
from coral_dagster.domain.hashing import adapter_key, content_hash, genome_key
from coral_dagster.domain.heldout import compare_methods, summarize_method
from coral_dagster.pipeline.records import GenomeRecord, HeldoutResult, TopGenome
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
        cache=CacheStats(
            adapters_trained=3, adapters_reused=5, hit_rate=5 / 8, compute_seconds_saved=1234.5
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


# ---- a realistic artifact store, as the stages write it (for coral_dagster.pipeline.report) --
REPORT_CONFIG = {
    "name": "report-test",
    "seed": 5,
    "population": {"size": 4, "grid_size": 6, "min_steps": 4, "max_steps": 10},
    "evolution": {"generations": 2, "elite_count": 1},
    "benchmark": {"max_validation_problems": 2, "max_test_problems": 3},
    "model": {"base_model": "tiny-random"},
    "heldout": {"samples_per_problem": 3, "top_genomes": 1, "bootstrap_resamples": 200},
}

GENES = {
    "A": HeavyGenes(4, 8.0, 0.0, ("q_proj", "v_proj"), "lora", 1e-4),
    "B": HeavyGenes(8, 16.0, 0.05, ("q_proj", "k_proj", "v_proj", "o_proj"), "dora", 3e-4),
    "C": HeavyGenes(16, 32.0, 0.1, ("q_proj", "v_proj"), "lora", 1e-3),
    "D": HeavyGenes(8, 8.0, 0.0, ("q_proj", "k_proj", "v_proj", "o_proj"), "lora", 1e-3),
}
TRAINING_SECONDS = {"A": 100.0, "B": 40.0, "C": 25.0, "D": 60.0}

# Generation 0: genes A, A, B, C; generation 1: gen 0's first genome (the elite), B, D, A.
# Adapter slots in order: A trains, A reuses, B trains, C trains | A reuses, B reuses, D trains,
# A reuses -> 4 trained, 4 reused, saved 100 + 100 + 40 + 100 = 340 s.
OBJECTIVES_BY_SLOT = {
    (0, 0): {"bugfix": 0.5, "syntax": 1.0, "style": 0.7, "security": 1.0, "runtime": 0.8},
    (0, 1): None,  # failed after every retry: fitness 0
    (0, 2): {"bugfix": 0.0, "syntax": 0.5, "style": 0.9, "security": 1.0, "runtime": 0.6},
    (0, 3): {"bugfix": 0.25, "syntax": 1.0, "style": 0.6, "security": 1.0, "runtime": 0.9},
    (1, 1): {"bugfix": 0.25, "syntax": 1.0, "style": 0.95, "security": 1.0, "runtime": 0.97},
    (1, 2): {"bugfix": 0.25, "syntax": 1.0, "style": 0.6, "security": 1.0, "runtime": 0.8},
    (1, 3): {"bugfix": 0.0, "syntax": 1.0, "style": 0.5, "security": 1.0, "runtime": 0.5},
}
# (1, 0) is the elite: the same genome as (0, 0), so the same key and the same scores file.
# Generation 1's Pareto front: the elite (best bugfix) and slot (1, 1) (best style/runtime).


def _genomes() -> dict[int, list[Genome]]:
    rng = np.random.default_rng(7)

    def seed(rule: str, steps: int) -> CASeed:
        grid = rng.integers(0, 2, size=(6, 6))
        return CASeed(
            grid=tuple(tuple(int(c) for c in row) for row in grid), rule=rule, steps=steps
        )

    gen0 = [
        Genome(seed("B3/S23", 6), GENES["A"]),
        Genome(seed("B36/S23", 8), GENES["A"]),
        Genome(seed("B2/S", 5), GENES["B"]),
        Genome(seed("B3678/S34678", 10), GENES["C"]),
    ]
    gen1 = [
        gen0[0],
        Genome(seed("B3/S23", 7), GENES["B"]),
        Genome(seed("B1357/S1357", 4), GENES["D"]),
        Genome(seed("B36/S23", 9), GENES["A"]),
    ]
    return {0: gen0, 1: gen1}


@dataclass
class StoreFacts:
    """What a test store holds: records per generation, fitness per genome key, heldout."""

    config: ExperimentConfig
    records: dict[int, list[GenomeRecord]]
    fitness: dict[str, float]
    failed: set[str]
    adapter_of: dict[str, str]  # genes name -> adapter key
    heldout: HeldoutResult | None


@pytest.fixture(scope="session")
def report_inputs():
    """The experiment inputs (problem split, key context) of REPORT_CONFIG."""
    from coral_dagster.pipeline.inputs import load_inputs

    return load_inputs(parse_config(REPORT_CONFIG))


def _heldout(inputs, gen1_records: list[GenomeRecord], fitness: dict[str, float]) -> HeldoutResult:
    """heldout/g0001.json as ``evaluate_heldout`` returns it (same methods, same statistics)."""
    config = inputs.config
    n = config.heldout.samples_per_problem
    problems = list(inputs.test_names)
    rates = np.random.default_rng(99)
    best = max(gen1_records, key=lambda r: fitness[r.genome_key])
    methods = {
        f"evolved #1 ({best.genome_key[:8]})": [0.2, 0.5, 0.3],
        "base + neutral": [0.5, 0.3, 0.2],
        "base + evolved knobs": [0.4, 0.3, 0.3],
        "standard LoRA": [0.3, 0.4, 0.3],
    }
    per_method = {
        m: {p: [float(v) for v in rates.choice([0.0, 0.5, 1.0], size=n, p=probs)] for p in problems}
        for m, probs in methods.items()
    }
    per_method["buggy unchanged"] = {p: [0.5] * n for p in problems}
    rng = np.random.default_rng([config.heldout.seed, 1])
    resamples = config.heldout.bootstrap_resamples
    summaries = [
        summarize_method(m, pp, ks=(1, 5), rng=rng, resamples=resamples)
        for m, pp in per_method.items()
    ]
    comparisons = compare_methods(
        summaries, rng, reference=summaries[0].method, resamples=resamples
    )
    return HeldoutResult(
        generation=1,
        test_problems=tuple(problems),
        samples_per_problem=n,
        standard_lora_key=content_hash("standard-lora"),
        standard_lora_cached=False,
        top_genomes=(
            TopGenome(best.genome_key, best.adapter_key, fitness[best.genome_key], best.knobs),
        ),
        summaries=tuple(summaries),
        comparisons=tuple(comparisons),
    )


def write_experiment_store(
    store,
    inputs,
    tmp_dir: Path,
    *,
    unscored: tuple[tuple[int, int], ...] = (),
    untrained: tuple[str, ...] = (),
    heldout: bool = True,
    generations: int = 2,
) -> StoreFacts:
    """Write populations, scores, adapters' training.json and heldout/g0001.json as the stages do.

    ``unscored`` slots get no scores file, ``untrained`` genes no adapter directory; with
    ``heldout`` False there is no held-out result.
    """
    from coral_dagster.domain.records import population_keys
    from coral_dagster.domain.scoring import fitness as weighted_fitness
    from coral_dagster.pipeline import layout
    from coral_dagster.pipeline.records import AdapterTraining, Population, Scores
    from coral_dagster.pipeline.scoring import failed_scores
    from coral_dagster.pipeline.store import write_record_file

    config = inputs.config
    records: dict[int, list[GenomeRecord]] = {}
    fitness: dict[str, float] = {}
    failed: set[str] = set()
    adapter_of: dict[str, str] = {}
    for generation, genomes in list(_genomes().items())[:generations]:
        rows = population_keys(genomes, config, inputs.key_context)
        records[generation] = [
            GenomeRecord(gkey, akey, genome.seed, genome.genes, knobs)
            for genome, knobs, akey, gkey in rows
        ]
        store.write_record(Population(generation, tuple(records[generation])), generation)
        for slot, (genome, _, akey, gkey) in enumerate(rows):
            name = next(n for n, g in GENES.items() if g == genome.genes)
            adapter_of[name] = akey
            if (generation, slot) in unscored or (generation, slot) == (1, 0):
                continue  # (1, 0) is the elite: its scores are (0, 0)'s file
            objectives = OBJECTIVES_BY_SLOT[(generation, slot)]
            if objectives is None:
                scores = failed_scores(gkey, "generated_code failed 2 times: CUDA OOM")
                failed.add(gkey)
            else:
                scores = Scores(
                    genome_key=gkey,
                    failed=False,
                    reason="",
                    objectives=objectives,
                    fitness=weighted_fitness(objectives, config.weights),
                    passed=3,
                    total=8,
                )
            fitness[gkey] = scores.fitness
            store.write_record(scores, gkey)
    for name, akey in adapter_of.items():
        if name in untrained:
            continue
        local = tmp_dir / f"adapter-{name}"
        local.mkdir(parents=True)
        report = AdapterTraining(
            trainable_params=12_288,
            total_params=135_000_000,
            losses=(2.31, 2.02),
            tokens_per_second=850.0,
            seconds=TRAINING_SECONDS[name],
            steps=2,
            examples=9,
            truncated_examples=0,
        )
        write_record_file(local / layout.ADAPTER_TRAINING, report)
        (local / "adapter_config.json").write_text(json.dumps({"r": GENES[name].rank}))
        store.publish_dir(local, layout.adapter_dir(akey))
    held = None
    if heldout and generations == 2:
        held = _heldout(inputs, records[1], fitness)
        store.write_record(held, 1)
    return StoreFacts(config, records, fitness, failed, adapter_of, held)


@pytest.fixture(scope="session")
def store_writer():
    """``write_experiment_store`` (fixtures are how tests here reach conftest helpers)."""
    return write_experiment_store


@pytest.fixture
def report_home(tmp_path, monkeypatch, report_inputs):
    """``make(**store options) -> (Home, StoreFacts)``: an experiment home holding the store.

    The home is laid out as ``coral evolve`` leaves it (``experiment.yaml``, ``artifacts/``,
    ``dagster/``); its Dagster instance starts without runs.
    """
    import yaml

    from coral_dagster.orchestration.home import Home

    monkeypatch.delenv("CORAL_ARTIFACT_ROOT", raising=False)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "unused"))  # restored after the test

    def make(**options) -> tuple[Home, StoreFacts]:
        home = Home((tmp_path / "home").resolve())
        home.path.mkdir()
        home.config_path.write_text(yaml.safe_dump(REPORT_CONFIG, sort_keys=True))
        facts = write_experiment_store(home.store(), report_inputs, tmp_path / "local", **options)
        assert home.config() == facts.config
        return home, facts

    return make


def record_run(instance, tags: dict[str, str], fail: bool = False) -> str:
    """Run a one-step Dagster job with ``tags`` in ``instance`` (fails when ``fail``); its id."""
    from dagster import asset, materialize

    @asset(name="report_test_step")
    def step() -> None:
        if fail:
            raise RuntimeError("step failed on purpose")

    result = materialize([step], instance=instance, tags=tags, raise_on_error=False)
    assert result.success is not fail
    return result.run_id


@pytest.fixture(scope="session")
def run_recorder():
    """``record_run`` (fixtures are how tests here reach conftest helpers)."""
    return record_run
