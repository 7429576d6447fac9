"""Held-out evaluation: the final generation's best genomes against baselines on the test split.

Methods, all on the same test problems with the same sampling budget (``n`` samples per problem,
the best genome's ``max_new_tokens``):

- ``evolved #i``: the i-th best genome of the final Pareto front (its adapter and cheap knobs);
- ``base + neutral``: no adapter, neutral decoding (T 0.7, top_p 0.9, top_k 50, rep 1.1);
- ``base + evolved knobs``: no adapter, the best genome's cheap knobs (what the knobs alone buy);
- ``standard LoRA``: one adapter of a fixed common configuration (r 8, alpha 16, dropout 0.05,
  q_proj + v_proj, lr 2e-4) with neutral decoding (what evolution buys over a standard LoRA);
- ``buggy unchanged``: the buggy program returned as is (the floor).

The test split is never used for training or selection: this is the only stage that reads it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.domain.genome import CheapKnobs, HeavyGenes
from coral_dagster.domain.hashing import adapter_key as make_adapter_key
from coral_dagster.domain.heldout import compare_methods, summarize_method
from coral_dagster.pipeline.adapters import ensure_adapter
from coral_dagster.pipeline.generation import adapters_loaded, sample_seed
from coral_dagster.pipeline.inputs import ExperimentInputs
from coral_dagster.pipeline.records import HeldoutResult, Population, TopGenome
from coral_dagster.pipeline.statistics import genome_table, pareto_front
from coral_dagster.pipeline.store import ArtifactStore

if TYPE_CHECKING:  # the model layer is imported where used (fast start of model-free runs)
    from coral_dagster.model.base_model import ResolvedBaseModel
    from coral_dagster.model.generation import PatchGenerator

NEUTRAL = {"temperature": 0.7, "top_p": 0.9, "top_k": 50, "repetition_penalty": 1.1}
STANDARD_LORA = HeavyGenes(
    rank=8,
    alpha=16,
    dropout=0.05,
    target_modules=("q_proj", "v_proj"),
    adapter_type="lora",
    learning_rate=2e-4,
)


def top_genomes(store: ArtifactStore, generation: int, count: int) -> list[TopGenome]:
    """The ``count`` best genomes of the generation's Pareto front, by fitness then key."""
    front = pareto_front(genome_table(store, upto=generation), generation).head(count)
    records = {g.genome_key: g for g in store.read_record(Population, generation).genomes}
    return [
        TopGenome(
            genome_key=row.genome_key,
            adapter_key=row.adapter_key,
            fitness=float(row.fitness),
            knobs=records[row.genome_key].knobs,
        )
        for row in front.itertuples()
    ]


def evaluate_heldout(
    store: ArtifactStore,
    inputs: ExperimentInputs,
    generation: int,
    base: ResolvedBaseModel,
    generator: PatchGenerator,
    evaluator: Evaluator,
    lock_dir: Path,
    adapter_cache: Path,
    device: str = "auto",
) -> HeldoutResult:
    """Evaluate every method on the test split; returns summaries and paired comparisons."""
    from coral_dagster.model.generation import GenerationRequest

    config = inputs.config
    n = config.heldout.samples_per_problem
    best = top_genomes(store, generation, config.heldout.top_genomes)
    budget = best[0].knobs.max_new_tokens
    neutral = CheapKnobs(**NEUTRAL, max_new_tokens=budget, do_sample=True)

    standard_key = make_adapter_key(
        STANDARD_LORA,
        inputs.key_context.base_model_id,
        inputs.key_context.training_data_fingerprint,
        inputs.key_context.training_config,
    )
    standard = ensure_adapter(store, standard_key, STANDARD_LORA, inputs, base, lock_dir, device)

    methods: list[tuple[str, str | None, CheapKnobs]] = [
        (
            f"evolved #{i + 1} ({g.genome_key[:8]})",
            g.adapter_key,
            replace(g.knobs, max_new_tokens=budget),
        )
        for i, g in enumerate(best)
    ]
    methods += [
        ("base + neutral", None, neutral),
        ("base + evolved knobs", None, best[0].knobs),
        ("standard LoRA", standard_key, neutral),
    ]
    problems = inputs.problem_set.problems
    requests = [
        GenerationRequest(
            request_id=f"{m}|{name}|{s}",
            adapter_name=akey,
            knobs=knobs,
            problem_name=name,
            buggy_source=problems[name].buggy_source,
            seed=sample_seed(config.heldout.seed, m, name, s),
        )
        for m, akey, knobs in methods
        for name in inputs.test_names
        for s in range(n)
    ]
    adapter_keys = [akey for _, akey, _ in methods if akey is not None]
    with adapters_loaded(generator, store, adapter_keys, adapter_cache):
        outputs = generator.generate(requests, batch_size=config.generation.batch_size)
    results = evaluator.evaluate_many([(o.problem_name, o.program) for o in outputs])
    floor = evaluator.evaluate_many(
        [(name, problems[name].buggy_source) for name in inputs.test_names]
    )

    rates: dict[str, dict[str, list[float]]] = {m: {} for m, _, _ in methods}
    for req, res in zip(requests, results, strict=True):
        method = req.request_id.split("|")[0]
        rates[method].setdefault(req.problem_name, []).append(res.passed / max(res.total, 1))
    rates["buggy unchanged"] = {r.problem: [r.passed / max(r.total, 1)] * n for r in floor}

    rng = np.random.default_rng([config.heldout.seed, generation])
    summaries = [
        summarize_method(
            m, per_problem, ks=(1, 5), rng=rng, resamples=config.heldout.bootstrap_resamples
        )
        for m, per_problem in rates.items()
    ]
    comparisons = compare_methods(
        summaries, rng, reference=summaries[0].method, resamples=config.heldout.bootstrap_resamples
    )
    return HeldoutResult(
        generation=generation,
        test_problems=tuple(inputs.test_names),
        samples_per_problem=n,
        standard_lora_key=standard_key,
        standard_lora_cached=standard.cached,
        top_genomes=tuple(best),
        summaries=tuple(summaries),
        comparisons=tuple(comparisons),
    )
