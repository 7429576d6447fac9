"""The stages of one generation as plain functions: what each Dagster asset computes.

The assets in ``coral_dagster.assets`` are thin wrappers around these functions (they add
partitions, metadata and retries), and ``run_in_process`` composes the same functions without
Dagster. Invariant 4 of the design: orchestration changes where work runs, never what it
computes; ``tests/platform/test_equivalence.py`` holds it.

Every stage reads its inputs from and writes its outputs to the ``ArtifactStore`` by content
key, so a stage can run in any process or pod that sees the same store.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.context import ExperimentInputs
from coral_dagster.domain.config import OBJECTIVES
from coral_dagster.domain.evolution import next_generation
from coral_dagster.domain.genome import CheapKnobs, Genome, HeavyGenes
from coral_dagster.domain.hashing import content_hash
from coral_dagster.domain.planner import generation_key
from coral_dagster.domain.population import initial_population
from coral_dagster.domain.records import genome_record, population_keys
from coral_dagster.domain.scoring import fitness, mean_objectives
from coral_dagster.model.base_model import ResolvedBaseModel
from coral_dagster.model.generation import GenerationRequest, PatchGenerator
from coral_dagster.model.training import TrainingExample, train_adapter
from coral_dagster.storage import ArtifactStore

Progress = Callable[[str], None]


# ---- paths in the store ---------------------------------------------------------------------
def population_path(generation: int) -> str:
    return f"populations/{generation_key(generation)}.json"


def adapter_dir(adapter_key: str) -> str:
    return f"adapters/{adapter_key}"


def genome_spec_path(genome_key: str) -> str:
    return f"genome_specs/{genome_key}.json"


def adapter_spec_path(adapter_key: str) -> str:
    return f"adapter_specs/{adapter_key}.json"


def generated_path(genome_key: str) -> str:
    return f"generated/{genome_key}.json"


def scores_path(genome_key: str) -> str:
    return f"scores/{genome_key}.json"


TRAINING_LOG = "training_log.jsonl"


def bind_experiment(store: ArtifactStore, experiment_id: str, name: str) -> None:
    """Record the experiment a store belongs to; a store of another experiment is an error."""
    if store.exists("experiment.json"):
        bound = store.read_json("experiment.json")
        if bound["experiment_id"] != experiment_id:
            raise ValueError(
                f"artifact store {store.root} belongs to experiment {bound['name']!r} "
                f"({bound['experiment_id']}), not {name!r} ({experiment_id}): use another "
                "store (CORAL_HOME / CORAL_ARTIFACT_ROOT) for a different config"
            )
        return
    store.write_json("experiment.json", {"experiment_id": experiment_id, "name": name})


# ---- population -----------------------------------------------------------------------------
def build_population(
    inputs: ExperimentInputs, generation: int, store: ArtifactStore
) -> list[dict[str, Any]]:
    """Genomes of ``generation`` as records (genome_key, adapter_key, seed, genes, knobs).

    Generation 0 comes from the config's seed; generation N > 0 from NSGA-II over generation
    N-1's genomes and their stored scores (a missing score is an error naming the genome).
    Writes the population, and a spec per adapter key and per genome key, to the store.
    """
    config = inputs.config
    if generation == 0:
        genomes = initial_population(config)
    else:
        previous = load_population(store, generation - 1)
        parents = [Genome.from_dict(r) for r in previous]
        objectives = [load_scores(store, r["genome_key"])["objectives"] for r in previous]
        genomes = next_generation(parents, objectives, config, generation - 1)
    records = [
        genome_record(genome, knobs, akey, gkey)
        for genome, knobs, akey, gkey in population_keys(genomes, config, inputs.key_context)
    ]
    for record in records:
        store.write_json(
            adapter_spec_path(record["adapter_key"]),
            {
                "adapter_key": record["adapter_key"],
                "genes": record["genes"],
                "key_context": inputs.key_context,
            },
        )
        store.write_json(
            genome_spec_path(record["genome_key"]), {**record, "generation": generation}
        )
    store.write_json(population_path(generation), records)
    return records


def load_population(store: ArtifactStore, generation: int) -> list[dict[str, Any]]:
    return store.read_json(population_path(generation), f"population {generation_key(generation)}")


def load_scores(store: ArtifactStore, genome_key: str) -> dict[str, Any]:
    return store.read_json(scores_path(genome_key), f"test scores of genome {genome_key}")


# ---- adapters -------------------------------------------------------------------------------
def training_examples(inputs: ExperimentInputs) -> list[TrainingExample]:
    problems = inputs.problem_set.problems
    return [
        TrainingExample(
            name=n, buggy_source=problems[n].buggy_source, fixed_source=problems[n].correct_source
        )
        for n in inputs.split.train
    ]


def ensure_adapter(
    store: ArtifactStore,
    adapter_key: str,
    genes: HeavyGenes,
    inputs: ExperimentInputs,
    base: ResolvedBaseModel,
    lock_dir: Path,
    device: str = "auto",
    run_id: str = "",
) -> dict[str, Any]:
    """Train the adapter of ``adapter_key`` unless a valid one is stored; at most once per key.

    Under an inter-process lock: a stored adapter that passes its checksum is a cache hit; a
    missing or corrupt one is (re)trained into a temporary folder and published with its
    manifest. Returns ``{"cached": bool, "training": TrainingReport dict}``.
    """
    with store.lock(f"adapter-{adapter_key}", lock_dir):
        if store.is_valid_dir(adapter_dir(adapter_key)):
            training = store.read_json(f"{adapter_dir(adapter_key)}/training.json")
            return {"cached": True, "training": training}
        with tempfile.TemporaryDirectory(prefix="coral-adapter-") as tmp:
            out = Path(tmp) / "adapter"
            out.mkdir()
            report = train_adapter(
                base,
                genes,
                training_examples(inputs),
                inputs.config.training,
                out,
                device=device,
                dtype=inputs.config.model.dtype,
            )
            training = report.to_dict()
            (out / "training.json").write_text(json.dumps(training, indent=1, sort_keys=True))
            store.publish_dir(out, adapter_dir(adapter_key))
        store.append_line(
            TRAINING_LOG,
            {
                "adapter_key": adapter_key,
                "run_id": run_id,
                "seconds": training["seconds"],
                "time": time.time(),
            },
        )
        return {"cached": False, "training": training}


# ---- generation -----------------------------------------------------------------------------
def sample_seed(*parts: Any) -> int:
    """A 63-bit seed from content: SHA-256 of the canonical JSON of ``parts``."""
    return int(content_hash(list(parts))[:15], 16)


@contextlib.contextmanager
def adapters_loaded(
    generator: PatchGenerator, store: ArtifactStore, keys: Sequence[str], adapter_cache: Path
) -> Iterator[None]:
    """Verify each stored adapter's checksums, load it into ``generator``, unload it afterwards.

    The generator (one per process) thus holds only the adapters of the current step, and a
    corrupted store copy is never loaded.
    """
    loaded: list[str] = []
    try:
        for key in dict.fromkeys(keys):
            local = store.local_copy(adapter_dir(key), adapter_cache)
            generator.load_adapter(key, local)
            loaded.append(key)
        yield
    finally:
        for key in loaded:
            generator.unload_adapter(key)


def generate_code(
    store: ArtifactStore,
    spec: dict[str, Any],
    inputs: ExperimentInputs,
    generator: PatchGenerator,
    adapter_cache: Path,
) -> dict[str, Any]:
    """Generate one patch per validation problem with the genome's adapter and cheap knobs.

    The adapter must be stored and pass its checksum; otherwise this fails (never falls back to
    the base model). Sampling is seeded per (generation seed, genome key, problem).
    """
    genome_key, adapter_key = spec["genome_key"], spec["adapter_key"]
    knobs = CheapKnobs.from_dict(spec["knobs"])
    problems = inputs.problem_set.problems
    requests = [
        GenerationRequest(
            request_id=f"{genome_key}:{name}",
            adapter_name=adapter_key,
            knobs=knobs,
            problem_name=name,
            buggy_source=problems[name].buggy_source,
            seed=sample_seed(inputs.config.generation.seed, genome_key, name),
        )
        for name in inputs.validation_names
    ]
    started = time.perf_counter()
    with adapters_loaded(generator, store, [adapter_key], adapter_cache):
        outputs = generator.generate(requests, batch_size=inputs.config.generation.batch_size)
    return {
        "genome_key": genome_key,
        "adapter_key": adapter_key,
        "outputs": [o.to_dict() for o in outputs],
        "seconds": time.perf_counter() - started,
    }


# ---- scoring --------------------------------------------------------------------------------
def score_generated(
    generated: dict[str, Any], inputs: ExperimentInputs, evaluator: Evaluator
) -> dict[str, Any]:
    """Run every generated program's tests in the sandbox; objectives are means over problems."""
    items = [(o["problem_name"], o["program"]) for o in generated["outputs"]]
    results = evaluator.evaluate_many(items)
    objectives = mean_objectives([r.objectives for r in results])
    return {
        "genome_key": generated["genome_key"],
        "failed": False,
        "reason": "",
        "objectives": objectives,
        "fitness": fitness(objectives, inputs.config.weights),
        "passed": sum(r.passed for r in results),
        "total": sum(r.total for r in results),
        "problems": [r.to_dict() for r in results],
    }


def failed_scores(genome_key: str, reason: str) -> dict[str, Any]:
    """Scores of a genome whose runs failed after every retry: fitness 0, reason recorded."""
    return {
        "genome_key": genome_key,
        "failed": True,
        "reason": reason,
        "objectives": {o: 0.0 for o in OBJECTIVES},
        "fitness": 0.0,
        "passed": 0,
        "total": 0,
        "problems": [],
    }


def generation_summary(store: ArtifactStore, generation: int) -> dict[str, Any]:
    """Fitness statistics of a scored generation (used by reports and early stopping)."""
    records = load_population(store, generation)
    scores = [load_scores(store, r["genome_key"]) for r in records]
    fits = [s["fitness"] for s in scores]
    return {
        "generation": generation,
        "best_fitness": max(fits),
        "mean_fitness": sum(fits) / len(fits),
        "n_genomes": len(records),
        "n_failed": sum(s["failed"] for s in scores),
    }


def best_fitness_history(store: ArtifactStore, generations: Sequence[int]) -> list[float]:
    return [generation_summary(store, g)["best_fitness"] for g in generations]


def run_in_process(
    inputs: ExperimentInputs,
    store: ArtifactStore,
    base: ResolvedBaseModel,
    generator: PatchGenerator,
    evaluator: Evaluator,
    lock_dir: Path,
    adapter_cache: Path,
    generations: int,
) -> dict[int, list[dict[str, Any]]]:
    """The same stages composed in plain Python, without Dagster (for invariant 4).

    Returns generation -> list of ``{**record, "scores": ...}`` in population order.
    """
    history: dict[int, list[dict[str, Any]]] = {}
    for generation in range(generations):
        records = build_population(inputs, generation, store)
        for record in records:
            ensure_adapter(
                store,
                record["adapter_key"],
                HeavyGenes.from_dict(record["genes"]),
                inputs,
                base,
                lock_dir,
                device=inputs.config.model.device,
            )
        rows = []
        for record in records:
            spec = {**record, "generation": generation}
            generated = generate_code(store, spec, inputs, generator, adapter_cache)
            store.write_json(generated_path(record["genome_key"]), generated)
            scores = score_generated(generated, inputs, evaluator)
            store.write_json(scores_path(record["genome_key"]), scores)
            rows.append({**record, "scores": scores})
        history[generation] = rows
    return history
