"""One NSGA-II generation step: gate, select, breed, keep the elite, no duplicates.

``next_generation(parents, objectives, config, generation)`` turns the scored genomes of
generation g into the ``population.size`` distinct genomes of generation g + 1:

1. fitness_i = sum_o w_o * s_{i,o} (``scoring.fitness``); the gate keeps parents with
   fitness >= min(gate.max, gate.initial + gate.step * g), or the single best parent when
   none passes (``gate.gate_survivors``);
2. NSGA-II rank and crowding distance of the gated pool on the five objectives;
3. elitism: the ``elite_count`` distinct pool members with the highest fitness (ties: lower
   rank, larger crowding, lower index) are copied unchanged;
4. offspring: two distinct parents by crowded tournament (the same parent twice when the
   pool has one member), crossover with probability ``crossover_rate`` (otherwise a copy of
   the first), then mutation; a child equal to a genome already in the new generation is
   discarded, and ``DuplicateOffspringError`` is raised after ``max_offspring_attempts``
   discards in a row for one slot.

All randomness comes from ``np.random.default_rng([config.seed, generation])``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from coral_dagster.domain.config import ExperimentConfig
from coral_dagster.domain.gate import gate_survivors, gate_threshold
from coral_dagster.domain.gene_space import gene_positions
from coral_dagster.domain.genome import Genome
from coral_dagster.domain.nsga2 import rank_and_crowding, tournament_select
from coral_dagster.domain.operators import crossover, mutate
from coral_dagster.domain.population import check_seed
from coral_dagster.domain.scoring import fitness, objective_matrix


class DuplicateOffspringError(RuntimeError):
    """Breeding kept producing genomes already in the new generation."""


def breeding_rng(seed: int, generation: int) -> np.random.Generator:
    """``np.random.default_rng([seed, generation])``: the generator of one breeding step."""
    if generation < 0:
        raise ValueError(f"generation must be >= 0, got {generation}")
    return np.random.default_rng([check_seed(seed), generation])


def check_parents(parents: Sequence[Genome], config: ExperimentConfig) -> None:
    """Every parent fits the config: grid shape, steps range, genes in candidate lists."""
    population = config.population
    shape = (population.grid_size, population.grid_size)
    for i, parent in enumerate(parents):
        if parent.seed.shape != shape:
            raise ValueError(
                f"parents[{i}]: grid shape {parent.seed.shape} != population.grid_size {shape}"
            )
        if not population.min_steps <= parent.seed.steps <= population.max_steps:
            raise ValueError(
                f"parents[{i}]: steps {parent.seed.steps} outside population "
                f"[min_steps={population.min_steps}, max_steps={population.max_steps}]"
            )
        try:
            gene_positions(parent.genes, config.genes)
        except ValueError as err:
            raise ValueError(f"parents[{i}]: {err}") from None


def select_elite(
    fitnesses: Sequence[float], rank: np.ndarray, crowding: np.ndarray, count: int
) -> list[int]:
    """Positions of the ``count`` best: fitness desc, rank asc, crowding desc, position asc."""
    order = sorted(
        range(len(fitnesses)),
        key=lambda i: (-fitnesses[i], int(rank[i]), -float(crowding[i]), i),
    )
    return order[:count]


def next_generation(
    parents: Sequence[Genome],
    objectives: Sequence[Mapping[str, float]],
    config: ExperimentConfig,
    generation: int,
) -> list[Genome]:
    """The ``config.population.size`` distinct genomes of generation ``generation + 1``."""
    if len(parents) == 0:
        raise ValueError("next_generation: no parents")
    if len(parents) != len(objectives):
        raise ValueError(
            f"next_generation: {len(parents)} parents but {len(objectives)} objective maps"
        )
    rng = breeding_rng(config.seed, generation)
    check_parents(parents, config)
    evolution = config.evolution
    matrix = objective_matrix(objectives)
    all_fitness = [fitness(o, config.weights) for o in objectives]
    pool = gate_survivors(all_fitness, gate_threshold(evolution.gate, generation))
    pool_fitness = [all_fitness[i] for i in pool]
    rank, crowding = rank_and_crowding(matrix[pool])

    children: list[Genome] = []
    seen: set[Genome] = set()
    for position in select_elite(pool_fitness, rank, crowding, len(pool)):
        if len(children) == evolution.elite_count:
            break
        elite = parents[pool[position]]
        if elite not in seen:
            seen.add(elite)
            children.append(elite)

    size = config.population.size
    attempts = evolution.max_offspring_attempts
    while len(children) < size:
        for _ in range(attempts):
            if len(pool) >= 2:
                first, second = tournament_select(rank, crowding, 2, evolution.tournament_size, rng)
            else:
                first = second = 0
            mother, father = parents[pool[first]], parents[pool[second]]
            child = mother
            if rng.random() < evolution.crossover_rate:
                child = crossover(mother, father, rng)
            child = mutate(child, config, rng)
            if child not in seen:
                break
        else:
            raise DuplicateOffspringError(
                f"generation {generation}: {attempts} offspring in a row duplicated genomes "
                f"already bred ({len(children)} of population.size={size}); raise the mutation "
                "rates or evolution.max_offspring_attempts"
            )
        seen.add(child)
        children.append(child)
    return children
