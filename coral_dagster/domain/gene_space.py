"""The discrete space of heavy genes: one ordered candidate list per gene (``GeneCandidates``).

A gene's *position* is its index in its list. Mapping, crossover and mutation only ever pick
list entries, so every gene of every genome stays inside the configured lists; a gene value
that is not in its list is an error naming the gene, never silently reset.
"""

from __future__ import annotations

from typing import Any

from coral_dagster.domain.config import GeneCandidates
from coral_dagster.domain.genome import HeavyGenes

GENE_NAMES: tuple[str, ...] = (
    "rank",
    "alpha",
    "dropout",
    "target_modules",
    "adapter_type",
    "learning_rate",
)


def _normalise(gene: str, value: Any) -> Any:
    if gene == "target_modules":
        return tuple(sorted(set(value)))
    if gene == "rank":
        return int(value)
    if gene == "adapter_type":
        return str(value)
    return float(value)


def candidate_lists(candidates: GeneCandidates) -> dict[str, tuple[Any, ...]]:
    """Each gene's candidate values, normalised as ``HeavyGenes`` stores them, in list order.

    Raises ``ValueError`` naming the gene when a list is empty or holds the same value twice
    (e.g. ``[q_proj, v_proj]`` and ``[v_proj, q_proj]``), since positions would be ambiguous.
    """
    raw = {
        "rank": candidates.ranks,
        "alpha": candidates.alphas,
        "dropout": candidates.dropouts,
        "target_modules": candidates.target_modules,
        "adapter_type": candidates.adapter_types,
        "learning_rate": candidates.learning_rates,
    }
    lists: dict[str, tuple[Any, ...]] = {}
    for gene in GENE_NAMES:
        values = tuple(_normalise(gene, v) for v in raw[gene])
        if not values:
            raise ValueError(f"gene {gene}: candidate list is empty")
        if len(set(values)) != len(values):
            raise ValueError(f"gene {gene}: candidate list {list(values)} repeats a value")
        lists[gene] = values
    return lists


def gene_positions(genes: HeavyGenes, candidates: GeneCandidates) -> dict[str, int]:
    """Position of each gene value in its candidate list; ``ValueError`` naming a missing one."""
    lists = candidate_lists(candidates)
    positions = {}
    for gene in GENE_NAMES:
        value = _normalise(gene, getattr(genes, gene))
        if value not in lists[gene]:
            raise ValueError(
                f"gene {gene}={value!r} is not in its candidate list {list(lists[gene])}"
            )
        positions[gene] = lists[gene].index(value)
    return positions


def genes_at(positions: dict[str, int], candidates: GeneCandidates) -> HeavyGenes:
    """The ``HeavyGenes`` at the given list positions (one per gene name)."""
    lists = candidate_lists(candidates)
    values = {}
    for gene in GENE_NAMES:
        index = positions[gene]
        if not 0 <= index < len(lists[gene]):
            raise ValueError(f"gene {gene}: position {index} outside 0..{len(lists[gene]) - 1}")
        values[gene] = lists[gene][index]
    return HeavyGenes(**values)
