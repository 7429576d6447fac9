import numpy as np
import pytest
from domain_helpers import config_variant
from hypothesis import given, settings
from hypothesis import strategies as st

from coral_dagster.domain.config import EvolutionConfig
from coral_dagster.domain.gene_space import GENE_NAMES, candidate_lists, gene_positions
from coral_dagster.domain.genome import HeavyGenes, parse_rule
from coral_dagster.domain.operators import (
    crossover,
    mutate,
    mutate_genes,
    mutate_seed,
    mutate_steps,
    toggle_rule_digit,
)
from coral_dagster.domain.population import initial_population

seeds = st.integers(0, 2**32 - 1)


def test_crossover_takes_every_part_from_a_parent(default_population):
    a, b = default_population[:2]
    rng = np.random.default_rng(0)
    grid_a, grid_b = np.asarray(a.seed.grid), np.asarray(b.seed.grid)
    mixed_grids = 0
    for _ in range(50):
        child = crossover(a, b, rng)
        grid = np.asarray(child.seed.grid)
        assert ((grid == grid_a) | (grid == grid_b)).all()
        from_b = (grid != grid_a).any()
        from_a = (grid != grid_b).any()
        mixed_grids += int(from_a and from_b)
        assert child.seed.rule in (a.seed.rule, b.seed.rule)
        assert child.seed.steps in (a.seed.steps, b.seed.steps)
        for gene in GENE_NAMES:
            assert getattr(child.genes, gene) in (getattr(a.genes, gene), getattr(b.genes, gene))
    assert mixed_grids > 0


def test_crossover_of_different_grid_shapes_is_an_error(quick_population, default_population):
    small, large = quick_population[0], default_population[0]
    with pytest.raises(ValueError, match="shapes"):
        crossover(small, large, np.random.default_rng(0))


@settings(max_examples=100, deadline=None)
@given(seed=seeds)
def test_mutation_stays_in_candidate_lists_and_step_range(default_config, default_population, seed):
    rng = np.random.default_rng(seed)
    config = config_variant(
        default_config,
        {
            "evolution": {
                "gene_mutation_rate": 1.0,
                "steps_mutation_rate": 1.0,
                "rule_mutation_rate": 1.0,
            }
        },
    )
    genome = default_population[seed % len(default_population)]
    lists = candidate_lists(config.genes)
    for _ in range(5):
        before = gene_positions(genome.genes, config.genes)
        genome = mutate(genome, config, rng)
        after = gene_positions(genome.genes, config.genes)  # raises if outside the lists
        for gene in GENE_NAMES:
            if len(lists[gene]) > 1:
                assert abs(after[gene] - before[gene]) == 1, gene
        pop = config.population
        assert pop.min_steps <= genome.seed.steps <= pop.max_steps


def test_gene_outside_candidate_list_is_an_error_not_a_reset(default_config, default_population):
    genes = default_population[0].genes
    stray = HeavyGenes(**{**genes.to_dict(), "rank": 7})
    with pytest.raises(
        ValueError, match=r"gene rank=7 is not in its candidate list \[4, 8, 16, 32\]"
    ):
        mutate_genes(stray, default_config.genes, 0.0, np.random.default_rng(0))
    candidates = config_variant(default_config, {"genes": {"adapter_types": ["lora"]}}).genes
    dora = HeavyGenes(**{**genes.to_dict(), "adapter_type": "dora"})
    with pytest.raises(ValueError, match="gene adapter_type='dora'"):
        mutate_genes(dora, candidates, 1.0, np.random.default_rng(0))


def test_zero_rates_leave_a_genome_unchanged(default_config):
    rates = (
        "cell_mutation_rate",
        "rule_mutation_rate",
        "steps_mutation_rate",
        "gene_mutation_rate",
    )
    config = config_variant(default_config, {"evolution": dict.fromkeys(rates, 0.0)})
    genome = initial_population(config)[0]
    assert mutate(genome, config, np.random.default_rng(1)) == genome


def test_cell_mutation_flips_about_the_configured_fraction(default_population):
    genome = default_population[0]
    evolution = EvolutionConfig(cell_mutation_rate=0.25)
    rng = np.random.default_rng(5)
    flipped = []
    for _ in range(40):
        mutated = mutate_seed(genome.seed, evolution, 12, 48, rng)
        flipped.append((np.asarray(mutated.grid) != np.asarray(genome.seed.grid)).mean())
    assert 0.2 < float(np.mean(flipped)) < 0.3


def test_toggle_rule_digit_adds_and_removes():
    assert toggle_rule_digit("B3/S23", "B", 6) == "B36/S23"
    assert toggle_rule_digit("B36/S23", "B", 6) == "B3/S23"
    assert toggle_rule_digit("B3/S23", "S", 2) == "B3/S3"
    assert toggle_rule_digit("B3/S", "S", 0) == "B3/S0"
    with pytest.raises(ValueError, match=r"digit 0\.\.8"):
        toggle_rule_digit("B3/S23", "S", 9)


@settings(max_examples=100, deadline=None)
@given(seed=seeds, low=st.integers(1, 20), width=st.integers(0, 30), data=st.data())
def test_steps_mutation_moves_within_bounds(seed, low, width, data):
    high = low + width
    steps = data.draw(st.integers(low, high))
    moved = mutate_steps(steps, low, high, np.random.default_rng(seed))
    assert low <= moved <= high
    assert moved != steps or low == high


def test_parent_steps_outside_range_is_an_error(quick_config, quick_population):
    genome = quick_population[0]
    with pytest.raises(ValueError, match=r"CA steps \d+ outside \[min_steps=30, max_steps=40\]"):
        mutate_seed(genome.seed, quick_config.evolution, 30, 40, np.random.default_rng(0))


def test_rule_mutation_changes_exactly_one_digit(quick_population):
    genome = quick_population[0]
    evolution = EvolutionConfig(
        cell_mutation_rate=0.0, rule_mutation_rate=1.0, steps_mutation_rate=0.0
    )
    rng = np.random.default_rng(2)
    birth, survival = parse_rule(genome.seed.rule)
    for _ in range(20):
        new_birth, new_survival = parse_rule(mutate_seed(genome.seed, evolution, 8, 24, rng).rule)
        changes = len(birth ^ new_birth) + len(survival ^ new_survival)
        assert changes == 1
