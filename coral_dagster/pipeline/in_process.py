"""The stages composed in plain Python, without Dagster (invariant 4 of the design).

Orchestration changes where work runs, never what it computes: ``run_in_process`` calls the
same stage functions the assets call, in the planner's order, so its keys, generated text and
scores must equal a Dagster run's (``tests/platform/test_equivalence.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.pipeline.adapters import ensure_adapter
from coral_dagster.pipeline.corpus import corpus_sandbox, ensure_corpus
from coral_dagster.pipeline.generation import generate_code
from coral_dagster.pipeline.inputs import ExperimentInputs
from coral_dagster.pipeline.population import build_population
from coral_dagster.pipeline.records import GeneratedCode, GenomeRecord, Scores
from coral_dagster.pipeline.scoring import score_generated
from coral_dagster.pipeline.store import ArtifactStore
from coral_dagster.pipeline.validation_bugs import (
    build_validation_bugs,
    ensure_validation_bugs,
    evaluation_inputs,
)

if TYPE_CHECKING:
    from coral_dagster.model.base_model import ResolvedBaseModel
    from coral_dagster.model.generation import PatchGenerator


@dataclass(frozen=True)
class GenomeRun:
    """One genome slot of a generation with what the stages produced for it."""

    record: GenomeRecord
    generated: GeneratedCode
    scores: Scores


def run_in_process(
    inputs: ExperimentInputs,
    store: ArtifactStore,
    base: ResolvedBaseModel,
    generator: PatchGenerator,
    evaluator: Evaluator,
    local_dir: Path,
    adapter_cache: Path,
    generations: int,
) -> dict[int, list[GenomeRun]]:
    """Generations 0..``generations``-1 in population order (the training corpus and the
    injected validation bugs first)."""
    corpus_evaluator = Evaluator(inputs.problem_set, corpus_sandbox(inputs.config.sandbox))
    ensure_corpus(
        store,
        inputs.problem_set,
        inputs.split,
        inputs.config.corpus,
        corpus_evaluator,
        local_dir / "corpus",
    )
    if inputs.validation_bugs_fingerprint is not None:
        from coral_dagster.model import generation as model_generation

        ensure_validation_bugs(
            store,
            inputs,
            lambda: build_validation_bugs(
                inputs,
                model_generation.PatchGenerator(base, device="cpu", dtype="float32"),
                lambda problem_set: Evaluator(problem_set, corpus_sandbox(inputs.config.sandbox)),
                inputs.config.generation.batch_size,
            ),
        )
    evaluated = evaluation_inputs(store, inputs)
    if evaluated is not inputs:
        evaluator = Evaluator(evaluated.problem_set, evaluator.config)
    history: dict[int, list[GenomeRun]] = {}
    for generation in range(generations):
        population = build_population(inputs, generation, store)
        for record in population.genomes:
            ensure_adapter(
                store,
                record.adapter_key,
                record.genes,
                inputs,
                base,
                local_dir,
                device=inputs.config.model.device,
            )
        runs = []
        for record in population.genomes:
            generated = generate_code(store, record, evaluated, generator, adapter_cache)
            store.write_record(generated, record.genome_key)
            scores = score_generated(
                generated, inputs.config.weights, evaluator, inputs.config.generation.bugfix
            )
            store.write_record(scores, record.genome_key)
            runs.append(GenomeRun(record, generated, scores))
        history[generation] = runs
    return history
