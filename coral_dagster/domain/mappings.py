"""Monotone maps from CA features to cheap knobs (decoding) and initial heavy genes (adapter).

Features (``features.CAFeatures``, each in [0, 1]) enter through four inputs::

    complexity, periodicity, convergence   as extracted
    activity = min(1, 2 * intensity)       (Life-like change rates rarely exceed 0.5)

Every knob and gene has a *drive* d in [0, 1], a weighted sum of inputs::

    d = sum_f w_f * input_f + sum_{w_f < 0} |w_f|       with sum_f |w_f| = 1

so a positive weight makes the output non-decreasing in that input, a negative one
non-increasing (``KNOB_WEIGHTS``, ``GENE_WEIGHTS``). Outputs from drives:

- float knob  = round(low + d * (high - low), 6) over its ``KnobRanges`` range;
- int knob    = floor(low + d * (high - low) + 0.5);
- do_sample   = d_temperature > ranges.sample_threshold;
- heavy gene  = candidates[min(n - 1, floor(d * n))] of its ordered candidate list (n entries).

Nothing is hashed or random: features that differ by eps give drives that differ by at most
2 * eps, hence knobs that differ by at most 2 * eps * (high - low) (+ rounding) and gene
positions that differ by at most ceil(2 * eps * n).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from coral_dagster.domain.automaton import run_automaton
from coral_dagster.domain.config import GeneCandidates, KnobRanges, Range
from coral_dagster.domain.features import CAFeatures, extract_features
from coral_dagster.domain.gene_space import GENE_NAMES, candidate_lists, genes_at
from coral_dagster.domain.genome import CASeed, CheapKnobs, HeavyGenes

INPUT_NAMES: tuple[str, ...] = ("complexity", "activity", "periodicity", "convergence")

KNOB_WEIGHTS: dict[str, dict[str, float]] = {
    "temperature": {"complexity": 0.5, "activity": 0.5},
    "top_p": {"complexity": 0.5, "periodicity": -0.5},
    "top_k": {"complexity": 1.0},
    "repetition_penalty": {"periodicity": 1.0},
    "max_new_tokens": {"convergence": -1.0},
}
"""Drive weights of the cheap knobs; ``do_sample`` uses the temperature drive."""

GENE_WEIGHTS: dict[str, dict[str, float]] = {
    "rank": {"complexity": 1.0},
    "alpha": {"periodicity": 1.0},
    "dropout": {"convergence": -1.0},
    "target_modules": {"activity": 1.0},
    "adapter_type": {"complexity": 0.5, "periodicity": 0.5},
    "learning_rate": {"activity": 0.5, "convergence": -0.5},
}
"""Drive weights of the heavy genes (position in each ordered candidate list)."""


def mapping_inputs(features: CAFeatures) -> dict[str, float]:
    """The four drive inputs of ``features`` (activity = min(1, 2 * intensity))."""
    return {
        "complexity": features.complexity,
        "activity": min(1.0, 2.0 * features.intensity),
        "periodicity": features.periodicity,
        "convergence": features.convergence,
    }


def drive(inputs: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """d = sum w_f * input_f + sum_{w_f<0} |w_f|, in [0, 1] when sum |w_f| = 1."""
    value = sum(w * inputs[f] for f, w in weights.items())
    value += sum(-w for w in weights.values() if w < 0)
    return min(1.0, max(0.0, value))  # clip float round-off only


def _float_knob(span: Range, d: float) -> float:
    return round(span.low + d * (span.high - span.low), 6)


def _int_knob(span: Range, d: float) -> int:
    return math.floor(span.low + d * (span.high - span.low) + 0.5)


def candidate_position(d: float, count: int) -> int:
    """Position min(count - 1, floor(d * count)) of drive ``d`` in a list of ``count`` entries."""
    if count < 1:
        raise ValueError("candidate list is empty")
    return min(count - 1, math.floor(d * count))


def features_to_knobs(features: CAFeatures, ranges: KnobRanges) -> CheapKnobs:
    """Decoding knobs of a genome from its CA features (monotone, see module doc)."""
    inputs = mapping_inputs(features)
    d = {knob: drive(inputs, w) for knob, w in KNOB_WEIGHTS.items()}
    return CheapKnobs(
        temperature=_float_knob(ranges.temperature, d["temperature"]),
        top_p=_float_knob(ranges.top_p, d["top_p"]),
        top_k=_int_knob(ranges.top_k, d["top_k"]),
        repetition_penalty=_float_knob(ranges.repetition_penalty, d["repetition_penalty"]),
        max_new_tokens=_int_knob(ranges.max_new_tokens, d["max_new_tokens"]),
        do_sample=d["temperature"] > ranges.sample_threshold,
    )


def features_to_genes(features: CAFeatures, candidates: GeneCandidates) -> HeavyGenes:
    """Initial heavy genes from CA features: each gene picked by position (see module doc)."""
    inputs = mapping_inputs(features)
    counts = {gene: len(values) for gene, values in candidate_lists(candidates).items()}
    positions = {
        gene: candidate_position(drive(inputs, GENE_WEIGHTS[gene]), counts[gene])
        for gene in GENE_NAMES
    }
    return genes_at(positions, candidates)


def seed_features(seed: CASeed) -> CAFeatures:
    """Run the automaton of ``seed`` and extract its features."""
    return extract_features(run_automaton(seed))


def derive_knobs(seed: CASeed, ranges: KnobRanges) -> CheapKnobs:
    """Cheap knobs of a CA seed: run CA -> features -> knobs."""
    return features_to_knobs(seed_features(seed), ranges)
