"""Generation 0: random CA seeds and the heavy genes their features map to.

Randomness: ``initial_rng(seed)`` = ``np.random.default_rng(SeedSequence(seed, spawn_key=(0,)))``,
a stream distinct from the breeding streams ``default_rng([seed, generation])`` of
``evolution.next_generation`` (note ``default_rng(s)`` equals ``default_rng([s, 0])``).

A random seed: each cell of a ``grid_size`` x ``grid_size`` grid is alive with probability
``density``; the rule is drawn uniformly from ``population.rules``; steps uniformly from
[min_steps, max_steps]. Its genes are ``features_to_genes(features(run_automaton(seed)))``.
"""

from __future__ import annotations

import numpy as np

from coral_dagster.domain.config import ExperimentConfig, PopulationConfig
from coral_dagster.domain.genome import CASeed, Genome
from coral_dagster.domain.mappings import features_to_genes, seed_features

INITIAL_STREAM = 0


def check_seed(seed: int) -> int:
    """``seed`` as a non-negative int, or ``ValueError`` naming the config key ``seed``."""
    if isinstance(seed, bool) or int(seed) != seed or seed < 0:
        raise ValueError(
            f"seed: must be a non-negative integer for numpy's SeedSequence, got {seed!r}"
        )
    return int(seed)


def initial_rng(seed: int) -> np.random.Generator:
    """The generator of generation 0 for experiment seed ``seed``."""
    return np.random.default_rng(
        np.random.SeedSequence(check_seed(seed), spawn_key=(INITIAL_STREAM,))
    )


def random_seed(population: PopulationConfig, rng: np.random.Generator) -> CASeed:
    """A random CA seed drawn as described in the module docstring."""
    size = population.grid_size
    grid = (rng.random((size, size)) < population.density).astype(np.uint8)
    rule = population.rules[int(rng.integers(len(population.rules)))]
    steps = int(rng.integers(population.min_steps, population.max_steps + 1))
    return CASeed(grid=tuple(tuple(int(c) for c in row) for row in grid), rule=rule, steps=steps)


def genome_from_seed(seed: CASeed, config: ExperimentConfig) -> Genome:
    """A genome whose heavy genes are mapped from the features of its own CA seed."""
    return Genome(seed=seed, genes=features_to_genes(seed_features(seed), config.genes))


def initial_population(config: ExperimentConfig) -> list[Genome]:
    """``config.population.size`` distinct genomes for generation 0 (deterministic in config).

    A drawn genome equal to an earlier one is redrawn; after
    ``evolution.max_offspring_attempts`` draws in a row without a new genome this raises
    ``ValueError`` (the grid is too small or the density too extreme for the size).
    """
    rng = initial_rng(config.seed)
    attempts = config.evolution.max_offspring_attempts
    genomes: list[Genome] = []
    seen: set[Genome] = set()
    while len(genomes) < config.population.size:
        for _ in range(attempts):
            genome = genome_from_seed(random_seed(config.population, rng), config)
            if genome not in seen:
                break
        else:
            raise ValueError(
                f"initial_population: {attempts} draws in a row repeated an existing genome "
                f"after {len(genomes)} of population.size={config.population.size}; raise "
                "population.grid_size or evolution.max_offspring_attempts"
            )
        seen.add(genome)
        genomes.append(genome)
    return genomes
