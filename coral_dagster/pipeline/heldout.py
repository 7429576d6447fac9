"""Held-out evaluation: the final generation's best genomes against baselines on held-out bugs.

The held-out problems are the test split, or every program of ``benchmark.heldout_dataset`` (a
QuixBugs checkout): never trained on, never selected with. A problem's tests are those its
correct program passes in this sandbox (``required_tests``); a program is *fixed* by a candidate
that passes all of them. Methods, all on the same problems with the same budget (``n`` samples
per problem in the configured patch format, the best genome's ``max_new_tokens``):

- ``evolved #i``: the i-th best genome of the final Pareto front (its adapter and cheap knobs);
- ``base + neutral``: no adapter, neutral decoding (T 0.7, top_p 0.9, top_k 50, rep 1.1);
- ``base + evolved knobs``: no adapter, the best genome's cheap knobs (what the knobs alone buy);
- ``standard LoRA``: one adapter of a fixed common configuration (r 8, alpha 16, dropout 0.05,
  q_proj + v_proj, lr 2e-4) with neutral decoding (what evolution buys over a standard LoRA);
- ``buggy unchanged``: the buggy program returned as is (the floor).

The held-out problems are never used for training or selection: this is the only stage that
reads them. Reported per method: fixed programs, pass@1, pass@5 and pass@n (unbiased, Chen et
al.), mean pass rate, with percentile bootstrap CIs over problems (``domain.heldout``). With
``patch.draws: distinct`` the n samples are distinct candidates: the same formula then gives the
chance that k of the n drawn candidates hold a fix, and the mean pass rate is over them; fixed
programs (pass@n) keep their meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from coral_dagster.benchmark.evaluator import CandidateResult, Evaluator
from coral_dagster.benchmark.problems import ProblemSet
from coral_dagster.domain.genome import CheapKnobs, HeavyGenes
from coral_dagster.domain.hashing import adapter_key as make_adapter_key
from coral_dagster.domain.hashing import content_hash
from coral_dagster.domain.heldout import compare_methods, summarize_method
from coral_dagster.pipeline.adapters import ensure_adapter
from coral_dagster.pipeline.generation import adapters_loaded
from coral_dagster.pipeline.inputs import ExperimentInputs
from coral_dagster.pipeline.progress import Emit, Progress
from coral_dagster.pipeline.records import (
    HeldoutResult,
    HeldoutSamples,
    PatchOutput,
    Population,
    TopGenome,
)
from coral_dagster.pipeline.repair import (
    PatchRequest,
    RepairTask,
    generate_patches,
    repair_tasks,
    sample_seed,
)
from coral_dagster.pipeline.statistics import genome_table, pareto_front
from coral_dagster.pipeline.store import ArtifactCorrupt, ArtifactStore

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


def required_tests(
    evaluator: Evaluator, problem_set: ProblemSet, names: Sequence[str]
) -> dict[str, tuple[int, ...]]:
    """Per problem, the tests its correct program passes in this sandbox: the tests a candidate
    must pass. A test the reference fails too (a slow case that times out here, as QuixBugs'
    own harness skips them) is no test a repair can pass, so it is left out."""
    results = evaluator.evaluate_many([(n, problem_set.problems[n].correct_source) for n in names])
    return {r.problem: tuple(t.index for t in r.tests if t.verdict == "pass") for r in results}


def pass_rate(result: CandidateResult, required: Sequence[int]) -> float:
    """Fraction of the required tests the candidate passes (1.0: the program is fixed)."""
    passed = {t.index for t in result.tests if t.verdict == "pass"}
    return len(passed & set(required)) / len(required)


def sample_key(inputs: ExperimentInputs, request: PatchRequest, task: RepairTask) -> str:
    """SHA-256 of everything a held-out request's samples depend on: the base model, prompt
    template, generation and patch settings (``evaluation_fingerprint``), the model config, the
    adapter, knobs, seed and sample count, and the problem as the model sees it."""
    return content_hash(
        {
            "base_model": inputs.key_context.base_model_id,
            "evaluation": inputs.key_context.evaluation_fingerprint,
            "model": inputs.config.model.model_dump(mode="json"),
            "adapter": request.adapter_name,
            "knobs": request.knobs.to_dict(),
            "seed": request.seed,
            "samples": request.samples,
            "problem": inputs.heldout_set.problems[request.problem].fingerprint(),
            "place": None if task.place is None else asdict(task.place),
            "candidates": [c.answer for c in task.candidates],
        }
    )


def stored_or_generated(
    store: ArtifactStore,
    requests: Sequence[PatchRequest],
    keys: Sequence[str],
    generate: Callable[[list[PatchRequest]], list[list[PatchOutput]]],
    progress: Progress,
    loaded: Callable[[], AbstractContextManager[object]],
) -> list[list[PatchOutput]]:
    """Each request's samples: read from ``HeldoutSamples`` where an earlier attempt stored
    them, else generated one problem at a time (all methods of a problem in one call, so
    methods sharing an adapter share its work) and stored at once. ``loaded()`` is entered
    only when something is generated. A stored record that fails verification is said (the
    file and why) and generated again, as any damaged derived artifact is."""
    outputs: list[list[PatchOutput] | None] = [None] * len(keys)
    for i, k in enumerate(keys):
        if not store.has_record(HeldoutSamples, k):
            continue
        try:
            outputs[i] = list(store.read_record(HeldoutSamples, k).outputs)
        except ArtifactCorrupt as err:
            if progress.emit is not None:
                progress.emit(f"{progress.label}: {err}; generating them again")
    done = sum(r.samples for r, o in zip(requests, outputs, strict=True) if o is not None)
    missing: dict[str, list[int]] = {}
    for i, (r, o) in enumerate(zip(requests, outputs, strict=True)):
        if o is None:
            missing.setdefault(r.problem, []).append(i)
    progress.skip(done)
    if missing:
        with loaded():
            for chunk in missing.values():
                generated = generate([requests[i] for i in chunk])
                for i, samples in zip(chunk, generated, strict=True):
                    record = HeldoutSamples(keys[i], requests[i].request_id, tuple(samples))
                    store.write_record(record, keys[i])
                    outputs[i] = samples
                    done += requests[i].samples
                progress.update(done)
    progress.update(progress.total)
    return [o for o in outputs if o is not None]


def evaluate_heldout(
    store: ArtifactStore,
    inputs: ExperimentInputs,
    generation: int,
    base: ResolvedBaseModel,
    generator: PatchGenerator,
    evaluator: Evaluator,
    local_dir: Path,
    adapter_cache: Path,
    device: str = "auto",
    report: Emit | None = None,
) -> HeldoutResult:
    """Evaluate every method on the held-out problems; summaries and paired comparisons.

    ``evaluator`` runs the held-out problem set (``inputs.heldout_set``); ``report`` gets
    progress lines (``pipeline.progress``) while the candidates are generated, and one line
    before they go to the sandbox."""
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
    standard = ensure_adapter(store, standard_key, STANDARD_LORA, inputs, base, local_dir, device)

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
    heldout = inputs.heldout_set
    required = required_tests(evaluator, heldout, inputs.test_names)
    names = [name for name in inputs.test_names if required[name]]
    tasks = repair_tasks(heldout, names, config.patch)
    requests = [
        PatchRequest(
            request_id=f"{m}|{name}",
            problem=name,
            adapter_name=akey,
            knobs=knobs,
            seed=sample_seed(config.heldout.seed, m, name),
            samples=n,
        )
        for m, akey, knobs in methods
        for name in names
    ]
    adapter_keys = [akey for _, akey, _ in methods if akey is not None]
    outputs = stored_or_generated(
        store,
        requests,
        [sample_key(inputs, r, tasks[r.problem]) for r in requests],
        lambda chunk: generate_patches(
            generator, chunk, tasks, config.patch, config.generation.batch_size
        ),
        Progress(
            f"held-out: generated ({len(methods)} methods x {len(names)} problems x {n})",
            len(requests) * n,
            report,
        ),
        loaded=lambda: adapters_loaded(generator, store, adapter_keys, adapter_cache),
    )
    flat = [(r, o) for r, samples in zip(requests, outputs, strict=True) for o in samples]
    if report is not None:
        report(f"held-out: testing {len(flat)} candidates in the sandbox")
    results = evaluator.evaluate_many([(o.problem_name, o.program) for _, o in flat])
    floor = evaluator.evaluate_many([(name, heldout.problems[name].buggy_source) for name in names])

    rates: dict[str, dict[str, list[float]]] = {m: {} for m, _, _ in methods}
    for (request, output), result in zip(flat, results, strict=True):
        method = request.request_id.split("|")[0]
        rates[method].setdefault(output.problem_name, []).append(
            pass_rate(result, required[output.problem_name])
        )
    rates["buggy unchanged"] = {r.problem: [pass_rate(r, required[r.problem])] * n for r in floor}

    rng = np.random.default_rng([config.heldout.seed, generation])
    ks = sorted({1, min(5, n), n})
    summaries = [
        summarize_method(
            m, per_problem, ks=ks, rng=rng, resamples=config.heldout.bootstrap_resamples
        )
        for m, per_problem in rates.items()
    ]
    comparisons = compare_methods(
        summaries, rng, reference=summaries[0].method, resamples=config.heldout.bootstrap_resamples
    )
    return HeldoutResult(
        generation=generation,
        test_problems=tuple(names),
        samples_per_problem=n,
        standard_lora_key=standard_key,
        standard_lora_cached=standard.cached,
        top_genomes=tuple(best),
        summaries=tuple(summaries),
        comparisons=tuple(comparisons),
    )
