"""The keys of a population's genomes (their stored records live in ``pipeline.records``).

knobs       = derive_knobs(genome.seed, config.knobs)
adapter_key = hashing.adapter_key(genes, base_model_id, training_data_fingerprint,
                                  training_config)
genome_key  = hashing.genome_key(adapter_key, seed, knobs, evaluation_fingerprint)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from coral_dagster.domain.config import ExperimentConfig
from coral_dagster.domain.genome import CheapKnobs, Genome
from coral_dagster.domain.hashing import adapter_key as make_adapter_key
from coral_dagster.domain.hashing import genome_key as make_genome_key
from coral_dagster.domain.mappings import derive_knobs


@dataclass(frozen=True)
class KeyContext:
    """Experiment inputs that enter the keys besides the genome itself.

    ``training_config`` is JSON-able and already includes any training code version.
    """

    base_model_id: str
    training_data_fingerprint: str
    training_config: dict[str, Any] = field(hash=False)
    evaluation_fingerprint: str


def population_keys(
    genomes: Sequence[Genome], config: ExperimentConfig, context: KeyContext
) -> list[tuple[Genome, CheapKnobs, str, str]]:
    """(genome, knobs, adapter_key, genome_key) for each genome, in order."""
    rows = []
    for genome in genomes:
        knobs = derive_knobs(genome.seed, config.knobs)
        a_key = make_adapter_key(
            genome.genes,
            context.base_model_id,
            context.training_data_fingerprint,
            context.training_config,
        )
        g_key = make_genome_key(a_key, genome.seed, knobs, context.evaluation_fingerprint)
        rows.append((genome, knobs, a_key, g_key))
    return rows
