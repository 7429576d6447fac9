"""The ``population`` stage: the genomes of a generation, with their keys and specs.

Generation 0 comes from the config's seed; generation N > 0 from NSGA-II over generation
N-1's genomes and their stored scores (a missing score is an error naming the genome).
"""

from __future__ import annotations

from collections.abc import Sequence

from coral_dagster.domain.evolution import next_generation
from coral_dagster.domain.population import initial_population
from coral_dagster.domain.records import population_keys
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.inputs import ExperimentInputs
from coral_dagster.pipeline.records import (
    AdapterSpec,
    ExperimentBinding,
    GenomeRecord,
    GenomeSpec,
    Population,
    Scores,
)
from coral_dagster.pipeline.store import ArtifactCorrupt, ArtifactMissing, ArtifactStore


def bind_experiment(store: ArtifactStore, experiment_id: str, name: str) -> None:
    """Record the experiment a store belongs to; a store of another experiment is an error."""
    if store.has_record(ExperimentBinding):
        bound = store.read_record(ExperimentBinding)
        if bound.experiment_id != experiment_id:
            raise ValueError(
                f"artifact store {store.root} belongs to experiment {bound.name!r} "
                f"({bound.experiment_id}), not {name!r} ({experiment_id}): use another "
                "store (CORAL_HOME / CORAL_ARTIFACT_ROOT) for a different config"
            )
        return
    store.write_record(ExperimentBinding(experiment_id=experiment_id, name=name))


def load_population(store: ArtifactStore, generation: int) -> Population:
    return store.read_record(Population, generation)


def genome_generations(store: ArtifactStore) -> dict[str, tuple[int, ...]]:
    """Genome key -> every stored generation it appears in (an elite carried over appears in
    several), in order."""
    found: dict[str, list[int]] = {}
    generation = 0
    while store.has_record(Population, generation):
        for key in load_population(store, generation).genome_keys:
            found.setdefault(key, []).append(generation)
        generation += 1
    return {key: tuple(gens) for key, gens in found.items()}


def _intact(store: ArtifactStore, cls: type, key: str) -> bool:
    """Whether ``cls``'s record for ``key`` is stored and passes verification."""
    try:
        store.read_record(cls, key)
    except (ArtifactMissing, ArtifactCorrupt):
        return False
    return True


class PopulationChanged(ValueError):
    """A population rebuilt after its successor was bred from it came out different."""


def build_population(
    inputs: ExperimentInputs,
    generation: int,
    store: ArtifactStore,
    expected: Sequence[str] | None = None,
) -> Population:
    """Breed (or seed) ``generation``; write it, an adapter spec per adapter key and a genome
    spec per genome key first seen here (or whose stored spec is damaged), to the store.

    ``expected``: the genome partition keys a successor was already bred from (a population
    made again after its file was lost or damaged). Unless the rebuilt population has exactly
    these genomes, ``PopulationChanged`` is raised and nothing is written."""
    config = inputs.config
    if generation == 0:
        genomes = initial_population(config)
    else:
        previous = load_population(store, generation - 1)
        parents = [g.genome() for g in previous.genomes]
        objectives = [store.read_record(Scores, k).objectives for k in previous.genome_keys]
        genomes = next_generation(parents, objectives, config, generation - 1)
    records = tuple(
        GenomeRecord(
            genome_key=gkey, adapter_key=akey, seed=genome.seed, genes=genome.genes, knobs=knobs
        )
        for genome, knobs, akey, gkey in population_keys(genomes, config, inputs.key_context)
    )
    if expected is not None and [r.partition_key for r in records] != list(expected):
        raise PopulationChanged(
            f"{store.path(layout.population(generation))}: rebuilding generation {generation} "
            f"gives other genomes than the ones its successor was bred from (the inputs or the "
            f"code changed since): restore the file from a backup or start a new home (--home)"
        )
    for record in records:
        store.write_record(
            AdapterSpec(record.adapter_key, record.genes, inputs.key_context), record.adapter_key
        )
        if not _intact(store, GenomeSpec, record.genome_key):  # first seen here, or damaged
            store.write_record(GenomeSpec(record, generation), record.genome_key)
    population = Population(generation=generation, genomes=records)
    store.write_record(population, generation)
    return population
