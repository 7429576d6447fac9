import numpy as np
import pytest
from domain_helpers import config_variant, random_objectives

from coral_dagster.domain.config import OBJECTIVES, ConfigError, GateConfig
from coral_dagster.domain.diversity import (
    diversity_summary,
    gene_entropy,
    grid_diversity,
    unique_adapter_fraction,
)
from coral_dagster.domain.evolution import DuplicateOffspringError, next_generation
from coral_dagster.domain.gate import gate_survivors, gate_threshold
from coral_dagster.domain.gene_space import gene_positions
from coral_dagster.domain.genome import Genome, HeavyGenes
from coral_dagster.domain.mappings import features_to_genes, seed_features
from coral_dagster.domain.population import initial_population
from coral_dagster.domain.scoring import fitness
from coral_dagster.domain.stopping import should_stop


def with_evolution(config, **changes):
    return config_variant(config, {"evolution": changes})


def uniform(value):
    return {o: value for o in OBJECTIVES}


def test_initial_population_is_unique_deterministic_and_mapped(default_config):
    first = initial_population(default_config)
    assert first == initial_population(default_config)
    assert len(first) == default_config.population.size
    assert len(set(first)) == len(first)
    pop = default_config.population
    for genome in first:
        assert genome.seed.shape == (pop.grid_size, pop.grid_size)
        assert genome.seed.rule in pop.rules
        assert pop.min_steps <= genome.seed.steps <= pop.max_steps
        assert genome.genes == features_to_genes(seed_features(genome.seed), default_config.genes)
    other = initial_population(config_variant(default_config, {"seed": 1}))
    assert other != first


def test_initial_population_fails_clearly_when_it_cannot_be_unique(quick_config):
    config = config_variant(
        quick_config,
        {
            "population": {
                "grid_size": 3,
                "density": 0.001,
                "min_steps": 8,
                "max_steps": 8,
                "size": 3,
                "rules": ["B3/S23"],
            },
            "evolution": {"max_offspring_attempts": 5},
        },
    )
    with pytest.raises(ValueError, match="5 draws in a row repeated an existing genome"):
        initial_population(config)


def test_next_generation_returns_size_unique_genomes_and_keeps_the_elite(default_config):
    parents = initial_population(default_config)
    objectives = random_objectives(len(parents), np.random.default_rng(0))
    children = next_generation(parents, objectives, default_config, generation=0)
    assert len(children) == default_config.population.size
    assert len(set(children)) == len(children)
    fit = [fitness(o, default_config.weights) for o in objectives]
    ranked = sorted(range(len(parents)), key=lambda i: -fit[i])
    elite_count = default_config.evolution.elite_count
    best = {parents[i] for i in ranked[:elite_count]}
    assert fit[ranked[elite_count - 1]] > fit[ranked[elite_count]]  # the elite is unambiguous
    assert set(children[:elite_count]) == best
    for child in children:
        gene_positions(child.genes, default_config.genes)  # every gene is in its list


def test_next_generation_is_deterministic_and_depends_on_generation(quick_config):
    parents = initial_population(quick_config)
    objectives = random_objectives(len(parents), np.random.default_rng(1))
    one = next_generation(parents, objectives, quick_config, generation=1)
    assert one == next_generation(parents, objectives, quick_config, generation=1)
    assert one != next_generation(parents, objectives, quick_config, generation=2)


def test_several_generations_keep_best_fitness_of_elite(default_config):
    population = initial_population(default_config)
    rng = np.random.default_rng(7)
    scores: dict[Genome, dict[str, float]] = {}
    best_history = []
    for generation in range(4):
        for genome in population:
            scores.setdefault(genome, random_objectives(1, rng)[0])
        objectives = [scores[g] for g in population]
        best_history.append(max(fitness(o, default_config.weights) for o in objectives))
        population = next_generation(population, objectives, default_config, generation)
        assert len(set(population)) == default_config.population.size
    assert best_history == sorted(best_history)  # elitism: best fitness never drops


def test_gate_that_empties_the_pool_keeps_only_the_best_parent(quick_config):
    config = with_evolution(
        quick_config,
        gate={"initial": 0.9, "step": 0.0, "max": 0.9},
        rule_mutation_rate=0.0,
        steps_mutation_rate=0.0,
        gene_mutation_rate=0.0,
        cell_mutation_rate=0.2,
    )
    parents = initial_population(config)
    objectives = [uniform(0.1), uniform(0.5), uniform(0.3), uniform(0.2)]
    best = parents[1]
    children = next_generation(parents, objectives, config, generation=3)
    assert children[0] == best
    for child in children:  # every child descends from the best parent alone
        assert child.genes == best.genes
        assert child.seed.rule == best.seed.rule
        assert child.seed.steps == best.seed.steps


def test_duplicate_offspring_give_up_with_a_clear_error(quick_config):
    config = with_evolution(
        quick_config,
        gate={"initial": 0.9, "step": 0.0, "max": 0.9},
        cell_mutation_rate=0.0,
        rule_mutation_rate=0.0,
        steps_mutation_rate=0.0,
        gene_mutation_rate=0.0,
        max_offspring_attempts=7,
    )
    parents = initial_population(config)
    with pytest.raises(DuplicateOffspringError, match="generation 0: 7 offspring in a row"):
        next_generation(parents, [uniform(0.2)] * len(parents), config, generation=0)


def test_next_generation_rejects_bad_inputs_naming_the_culprit(quick_config, default_config):
    parents = initial_population(quick_config)
    good = [uniform(0.5)] * len(parents)
    with pytest.raises(ValueError, match="4 parents but 3 objective maps"):
        next_generation(parents, good[:3], quick_config, 0)
    with pytest.raises(ValueError, match=r"objectives\[2\]: objective 'bugfix' must be in"):
        next_generation(parents, [*good[:2], uniform(1.5), good[3]], quick_config, 0)
    stray = Genome(parents[1].seed, HeavyGenes(**{**parents[1].genes.to_dict(), "rank": 64}))
    with pytest.raises(ValueError, match=r"parents\[1\]: gene rank=64 is not in its candidate"):
        next_generation([parents[0], stray, *parents[2:]], good, quick_config, 0)
    big = initial_population(default_config)[:4]
    with pytest.raises(ValueError, match=r"parents\[0\]: grid shape \(12, 12\)"):
        next_generation(big, good, quick_config, 0)
    with pytest.raises(ConfigError, match="seed: Input should be greater than or equal to 0"):
        config_variant(quick_config, {"seed": -1})


def test_gate_threshold_tightens_until_its_max():
    gate = GateConfig(initial=0.1, step=0.05, max=0.25)
    assert [gate_threshold(gate, g) for g in range(5)] == pytest.approx(
        [0.1, 0.15, 0.2, 0.25, 0.25]
    )
    assert gate_survivors([0.3, 0.1, 0.2], 0.2) == [0, 2]
    assert gate_survivors([0.1, 0.15, 0.15], 0.5) == [1]  # none pass: the first best only
    with pytest.raises(ValueError, match="generation must be >= 0"):
        gate_threshold(gate, -1)


@pytest.mark.parametrize(
    ("history", "patience", "min_delta", "stop"),
    [
        ([0.1, 0.2, 0.3], 2, 0.0, False),
        ([0.3, 0.3, 0.3], 2, 0.0, True),
        ([0.3, 0.3], 2, 0.0, False),  # not enough generations yet
        ([0.3, 0.2, 0.31], 2, 0.0, False),
        ([0.3, 0.2, 0.3005], 2, 0.001, True),  # gain below min_delta
        ([0.3, 0.3, 0.3, 0.5], 3, 0.001, False),
    ],
)
def test_early_stopping(history, patience, min_delta, stop):
    assert should_stop(history, patience, min_delta) is stop


def test_diversity_measures(default_config):
    population = initial_population(default_config)
    clone = [population[0]] * 3
    assert grid_diversity(clone) == 0.0
    assert unique_adapter_fraction(clone) == pytest.approx(1 / 3)
    assert all(v == 0.0 for v in gene_entropy(clone, default_config.genes).values())
    a = population[0]
    flipped = tuple(tuple(1 - c for c in row) for row in a.seed.grid)
    opposite = Genome(a.seed.__class__(flipped, a.seed.rule, a.seed.steps), a.genes)
    assert grid_diversity([a, opposite]) == 1.0
    summary = diversity_summary(population, default_config.genes)
    assert 0.0 < summary["grid_diversity"] < 1.0
    assert all(0.0 <= v <= 1.0 for v in summary.values())
    assert "gene_entropy.rank" in summary
