"""Diversity of a population, each measure in [0, 1].

- grid_diversity        = mean over pairs i < j of Hamming(grid_i, grid_j) / (H * W)
                          (0 for fewer than two genomes);
- unique_adapter_fraction = |distinct heavy-gene configurations| / n;
- gene_entropy[gene]    = H(gene values) / log2(len(candidate list)), H the Shannon entropy
                          in bits of the values' frequencies (0 for a one-entry list).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from coral_dagster.domain.config import GeneCandidates
from coral_dagster.domain.gene_space import GENE_NAMES, candidate_lists, gene_positions
from coral_dagster.domain.genome import Genome


def grid_diversity(genomes: Sequence[Genome]) -> float:
    """Mean pairwise normalised Hamming distance of the CA seed grids."""
    if len(genomes) < 2:
        return 0.0
    shapes = {g.seed.shape for g in genomes}
    if len(shapes) != 1:
        raise ValueError(f"grids of different shapes {sorted(shapes)} cannot be compared")
    grids = np.asarray([g.seed.grid for g in genomes], dtype=np.uint8).reshape(len(genomes), -1)
    differ = (grids[:, None, :] != grids[None, :, :]).mean(axis=2)
    upper = np.triu_indices(len(genomes), k=1)
    return float(differ[upper].mean())


def unique_adapter_fraction(genomes: Sequence[Genome]) -> float:
    """Fraction of distinct heavy-gene configurations (distinct adapters to train)."""
    if not genomes:
        raise ValueError("unique_adapter_fraction: empty population")
    return len({g.genes for g in genomes}) / len(genomes)


def gene_entropy(genomes: Sequence[Genome], candidates: GeneCandidates) -> dict[str, float]:
    """Normalised entropy of each heavy gene's values across the population."""
    if not genomes:
        raise ValueError("gene_entropy: empty population")
    sizes = {gene: len(values) for gene, values in candidate_lists(candidates).items()}
    positions = [gene_positions(g.genes, candidates) for g in genomes]
    result = {}
    for gene in GENE_NAMES:
        if sizes[gene] == 1:
            result[gene] = 0.0
            continue
        counts = Counter(p[gene] for p in positions)
        probs = [c / len(genomes) for c in counts.values()]
        entropy = sum(p * math.log2(1.0 / p) for p in probs)
        result[gene] = min(1.0, entropy / math.log2(sizes[gene]))
    return result


def diversity_summary(genomes: Sequence[Genome], candidates: GeneCandidates) -> dict[str, float]:
    """All diversity measures in one flat dict (``gene_entropy.<gene>`` for each gene)."""
    summary = {
        "grid_diversity": grid_diversity(genomes),
        "unique_adapter_fraction": unique_adapter_fraction(genomes),
    }
    for gene, value in gene_entropy(genomes, candidates).items():
        summary[f"gene_entropy.{gene}"] = value
    return summary
