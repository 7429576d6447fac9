"""The ``generated_code`` stage: patches for the validation problems with a genome's adapter and
knobs, in the configured patch format (``pipeline.repair``).

The adapter must be stored and pass its checksum; otherwise this fails (never falls back to
the base model). Sampling is seeded per (generation seed, genome key, problem).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from coral_dagster.pipeline import layout
from coral_dagster.pipeline.inputs import ExperimentInputs
from coral_dagster.pipeline.progress import Emit
from coral_dagster.pipeline.records import GeneratedCode, GenomeRecord
from coral_dagster.pipeline.repair import (
    PatchRequest,
    generate_patches,
    repair_tasks,
    sample_seed,
)
from coral_dagster.pipeline.store import ArtifactStore

# The model layer imports torch/transformers/peft: 3.5 s of a fresh run's 5 s start-up
# (python -X importtime). It is imported where used, so runs that load no model start fast.
if TYPE_CHECKING:
    from coral_dagster.model.generation import PatchGenerator


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
            local = store.local_copy(layout.adapter_dir(key), adapter_cache)
            generator.load_adapter(key, local)
            loaded.append(key)
        yield
    finally:
        for key in loaded:
            generator.unload_adapter(key)


def patch_requests(genome: GenomeRecord, inputs: ExperimentInputs) -> list[PatchRequest]:
    """One request per validation problem (``generation.samples_per_problem`` samples each),
    seeded per (generation seed, genome key, problem)."""
    return [
        PatchRequest(
            request_id=f"{genome.genome_key}:{name}",
            problem=name,
            adapter_name=genome.adapter_key,
            knobs=genome.knobs,
            seed=sample_seed(inputs.config.generation.seed, genome.genome_key, name),
            samples=inputs.config.generation.samples_per_problem,
        )
        for name in inputs.validation_names
    ]


def generate_batch(
    store: ArtifactStore,
    genomes: Sequence[GenomeRecord],
    inputs: ExperimentInputs,
    generator: PatchGenerator,
    adapter_cache: Path,
    report: Emit | None = None,
) -> list[GeneratedCode]:
    """Patches of several genomes served together (one model, each genome's own adapter, knobs
    and seeds; decoding formats in mixed-adapter batches): a genome's patches are the same as
    if it ran alone. ``seconds`` of each result is its share of the batch's wall time;
    ``report`` gets progress lines (``pipeline.progress``)."""
    config = inputs.config
    tasks = repair_tasks(inputs.problem_set, inputs.validation_names, config.patch)
    requests = [r for g in genomes for r in patch_requests(g, inputs)]
    started = time.perf_counter()
    with adapters_loaded(generator, store, [g.adapter_key for g in genomes], adapter_cache):
        outputs = generate_patches(
            generator,
            requests,
            tasks,
            config.patch,
            config.generation.batch_size,
            report=report,
            label=f"generated ({len(genomes)} genomes x {len(inputs.validation_names)} "
            f"problems x {config.generation.samples_per_problem})",
        )
    share = (time.perf_counter() - started) / max(len(genomes), 1)
    per_genome = len(inputs.validation_names)
    return [
        GeneratedCode(
            genome_key=g.genome_key,
            adapter_key=g.adapter_key,
            outputs=tuple(
                o for samples in outputs[i * per_genome : (i + 1) * per_genome] for o in samples
            ),
            seconds=share,
        )
        for i, g in enumerate(genomes)
    ]


def generate_code(
    store: ArtifactStore,
    genome: GenomeRecord,
    inputs: ExperimentInputs,
    generator: PatchGenerator,
    adapter_cache: Path,
) -> GeneratedCode:
    """One genome's patches: ``generate_batch`` of one."""
    return generate_batch(store, [genome], inputs, generator, adapter_cache)[0]
