"""Variation operators on genomes: crossover and mutation, randomness only from ``rng``.

Crossover of two parents a, b:
- grid: toroidal block crossover. A random block of h x w cells (1 <= h <= H, 1 <= w <= W,
  top-left corner anywhere, wrapping around the edges) is copied from b into a copy of a;
- rule and steps: each picked from one parent (probability 1/2 each);
- heavy genes: each gene picked from one parent (probability 1/2 each).

Mutation (rates from ``EvolutionConfig``):
- cells: each cell flips with probability ``cell_mutation_rate``;
- rule: with probability ``rule_mutation_rate`` one digit 0..8 of B or S is toggled (added
  when absent, removed when present);
- steps: with probability ``steps_mutation_rate`` steps moves by +-d, d uniform in
  1..max(1, (max_steps - min_steps) // 4), reflected back into [min_steps, max_steps];
- heavy genes: each gene, with probability ``gene_mutation_rate``, moves to a neighbouring
  entry of its ordered candidate list (the only neighbour at either end).

A parent whose gene is not in its candidate list, or whose steps lie outside
[min_steps, max_steps], is an error naming it: it is never silently reset.
"""

from __future__ import annotations

import numpy as np

from coral_dagster.domain.config import EvolutionConfig, ExperimentConfig, GeneCandidates
from coral_dagster.domain.gene_space import GENE_NAMES, candidate_lists, gene_positions, genes_at
from coral_dagster.domain.genome import CASeed, Genome, HeavyGenes, parse_rule


def _grid_array(seed: CASeed) -> np.ndarray:
    return np.asarray(seed.grid, dtype=np.uint8)


def _seed_from(grid: np.ndarray, rule: str, steps: int) -> CASeed:
    return CASeed(grid=tuple(tuple(int(c) for c in row) for row in grid), rule=rule, steps=steps)


def crossover_seeds(a: CASeed, b: CASeed, rng: np.random.Generator) -> CASeed:
    """Toroidal block crossover of the grids; rule and steps each from one parent."""
    if a.shape != b.shape:
        raise ValueError(f"cannot cross CA grids of shapes {a.shape} and {b.shape}")
    height, width = a.shape
    top, left = int(rng.integers(height)), int(rng.integers(width))
    block_h, block_w = int(rng.integers(1, height + 1)), int(rng.integers(1, width + 1))
    rows = (top + np.arange(block_h)) % height
    cols = (left + np.arange(block_w)) % width
    grid = _grid_array(a)
    grid[np.ix_(rows, cols)] = _grid_array(b)[np.ix_(rows, cols)]
    rule = a.rule if rng.random() < 0.5 else b.rule
    steps = a.steps if rng.random() < 0.5 else b.steps
    return _seed_from(grid, rule, steps)


def crossover_genes(a: HeavyGenes, b: HeavyGenes, rng: np.random.Generator) -> HeavyGenes:
    """Each heavy gene taken from parent a or b with probability 1/2."""
    take_a = rng.random(len(GENE_NAMES)) < 0.5
    return HeavyGenes(
        **{g: getattr(a if t else b, g) for g, t in zip(GENE_NAMES, take_a, strict=True)}
    )


def crossover(a: Genome, b: Genome, rng: np.random.Generator) -> Genome:
    """Child of two genomes: seed by ``crossover_seeds``, genes by ``crossover_genes``."""
    return Genome(
        seed=crossover_seeds(a.seed, b.seed, rng), genes=crossover_genes(a.genes, b.genes, rng)
    )


def toggle_rule_digit(rule: str, part: str, digit: int) -> str:
    """Add ``digit`` to the B or S set of ``rule`` when absent, remove it when present."""
    if part not in ("B", "S") or not 0 <= digit <= 8:
        raise ValueError(f"cannot toggle {part}{digit}: part must be B or S, digit 0..8")
    birth, survival = (set(s) for s in parse_rule(rule))
    target = birth if part == "B" else survival
    target.symmetric_difference_update({digit})
    return f"B{''.join(map(str, sorted(birth)))}/S{''.join(map(str, sorted(survival)))}"


def mutate_steps(steps: int, min_steps: int, max_steps: int, rng: np.random.Generator) -> int:
    """steps +- d, d uniform in 1..max(1, (max - min) // 4), reflected into [min, max]."""
    if not min_steps <= steps <= max_steps:
        raise ValueError(f"CA steps {steps} outside [min_steps={min_steps}, max_steps={max_steps}]")
    delta = int(rng.integers(1, max(1, (max_steps - min_steps) // 4) + 1))
    delta = delta if rng.random() < 0.5 else -delta
    moved = steps + delta
    if not min_steps <= moved <= max_steps:
        moved = steps - delta
    return min(max_steps, max(min_steps, moved))


def mutate_seed(
    seed: CASeed,
    evolution: EvolutionConfig,
    min_steps: int,
    max_steps: int,
    rng: np.random.Generator,
) -> CASeed:
    """Flip cells, toggle a rule digit and move steps, each with its configured rate."""
    if not min_steps <= seed.steps <= max_steps:
        raise ValueError(
            f"CA steps {seed.steps} outside [min_steps={min_steps}, max_steps={max_steps}]"
        )
    grid = _grid_array(seed)
    flips = rng.random(grid.shape) < evolution.cell_mutation_rate
    grid ^= flips.astype(np.uint8)
    rule = seed.rule
    if rng.random() < evolution.rule_mutation_rate:
        part = "B" if rng.random() < 0.5 else "S"
        rule = toggle_rule_digit(rule, part, int(rng.integers(9)))
    steps = seed.steps
    if rng.random() < evolution.steps_mutation_rate:
        steps = mutate_steps(steps, min_steps, max_steps, rng)
    return _seed_from(grid, rule, steps)


def mutate_genes(
    genes: HeavyGenes, candidates: GeneCandidates, rate: float, rng: np.random.Generator
) -> HeavyGenes:
    """Move each gene, with probability ``rate``, to a neighbouring candidate-list entry."""
    positions = gene_positions(genes, candidates)
    counts = {g: len(v) for g, v in candidate_lists(candidates).items()}
    for gene in GENE_NAMES:
        if rng.random() >= rate or counts[gene] == 1:
            continue
        pos = positions[gene]
        if pos == 0:
            positions[gene] = 1
        elif pos == counts[gene] - 1:
            positions[gene] = pos - 1
        else:
            positions[gene] = pos + (1 if rng.random() < 0.5 else -1)
    return genes_at(positions, candidates)


def mutate(genome: Genome, config: ExperimentConfig, rng: np.random.Generator) -> Genome:
    """Mutate seed and genes of ``genome`` with the rates of ``config.evolution``."""
    population = config.population
    seed = mutate_seed(
        genome.seed, config.evolution, population.min_steps, population.max_steps, rng
    )
    genes = mutate_genes(genome.genes, config.genes, config.evolution.gene_mutation_rate, rng)
    return Genome(seed=seed, genes=genes)
