import math

import pytest
from domain_helpers import seed_from_cells
from hypothesis import given, settings
from hypothesis import strategies as st

from coral_dagster.domain.config import KnobRanges
from coral_dagster.domain.features import FEATURE_NAMES, CAFeatures
from coral_dagster.domain.gene_space import GENE_NAMES, candidate_lists, gene_positions
from coral_dagster.domain.mappings import (
    GENE_WEIGHTS,
    KNOB_WEIGHTS,
    derive_knobs,
    features_to_genes,
    features_to_knobs,
    seed_features,
)

unit = st.floats(0.0, 1.0, allow_nan=False)
features_st = st.builds(CAFeatures, unit, unit, unit, unit)
KNOB_NAMES = ("temperature", "top_p", "top_k", "repetition_penalty", "max_new_tokens")


def direction(weights: dict[str, float], feature: str) -> int:
    """+1 / -1 / 0: how an output moves when ``feature`` grows (intensity feeds activity)."""
    w = weights.get("activity" if feature == "intensity" else feature, 0.0)
    return (w > 0) - (w < 0)


def bumped(features: CAFeatures, name: str, amount: float) -> CAFeatures:
    values = features.to_dict()
    values[name] = min(1.0, values[name] + amount)
    return CAFeatures(**values)


@settings(max_examples=150, deadline=None)
@given(features=features_st, name=st.sampled_from(FEATURE_NAMES), amount=unit)
def test_knobs_are_monotone_in_each_feature(quick_config, features, name, amount):
    ranges = quick_config.knobs
    low = features_to_knobs(features, ranges).to_dict()
    high = features_to_knobs(bumped(features, name, amount), ranges).to_dict()
    for knob in KNOB_NAMES:
        sign = direction(KNOB_WEIGHTS[knob], name)
        delta = high[knob] - low[knob]
        assert delta * sign >= 0, (knob, name)
        if sign == 0:
            assert delta == 0, (knob, name)
    sample_sign = direction(KNOB_WEIGHTS["temperature"], name)
    assert (int(high["do_sample"]) - int(low["do_sample"])) * sample_sign >= 0


@settings(max_examples=150, deadline=None)
@given(features=features_st, name=st.sampled_from(FEATURE_NAMES), amount=unit)
def test_genes_are_monotone_in_each_feature(default_config, features, name, amount):
    candidates = default_config.genes
    low = gene_positions(features_to_genes(features, candidates), candidates)
    high = gene_positions(features_to_genes(bumped(features, name, amount), candidates), candidates)
    for gene in GENE_NAMES:
        sign = direction(GENE_WEIGHTS[gene], name)
        assert (high[gene] - low[gene]) * sign >= 0, (gene, name)
        if sign == 0:
            assert high[gene] == low[gene], (gene, name)


@settings(max_examples=150, deadline=None)
@given(
    features=features_st,
    shifts=st.lists(st.floats(-0.01, 0.01, allow_nan=False), min_size=4, max_size=4),
)
def test_nearby_features_give_nearby_knobs_and_genes(default_config, features, shifts):
    values = features.to_dict()
    near = CAFeatures(
        **{n: min(1.0, max(0.0, values[n] + s)) for n, s in zip(FEATURE_NAMES, shifts, strict=True)}
    )
    ranges = default_config.knobs
    a, b = features_to_knobs(features, ranges).to_dict(), features_to_knobs(near, ranges).to_dict()
    for knob in KNOB_NAMES:
        span = getattr(ranges, knob)
        # drives move by at most 2 * 0.01 (activity = 2 * intensity), plus rounding
        rounding = 1.0 if knob in ("top_k", "max_new_tokens") else 2e-6
        assert abs(a[knob] - b[knob]) <= 0.02 * (span.high - span.low) + rounding, knob
    candidates = default_config.genes
    pa = gene_positions(features_to_genes(features, candidates), candidates)
    pb = gene_positions(features_to_genes(near, candidates), candidates)
    assert all(abs(pa[g] - pb[g]) <= 1 for g in GENE_NAMES)


@settings(max_examples=100, deadline=None)
@given(features=features_st)
def test_knobs_lie_in_their_ranges_and_genes_in_their_lists(default_config, features):
    ranges = default_config.knobs
    knobs = features_to_knobs(features, ranges).to_dict()
    for knob in KNOB_NAMES:
        span = getattr(ranges, knob)
        assert span.low <= knobs[knob] <= span.high, knob
    genes = features_to_genes(features, default_config.genes).to_dict()
    lists = candidate_lists(default_config.genes)
    for gene in GENE_NAMES:
        value = tuple(genes[gene]) if gene == "target_modules" else genes[gene]
        assert value in lists[gene], gene


def test_extreme_features_pick_list_ends(default_config):
    lists = candidate_lists(default_config.genes)
    low = features_to_genes(CAFeatures(0.0, 0.0, 0.0, 1.0), default_config.genes)
    high = features_to_genes(CAFeatures(1.0, 1.0, 1.0, 0.0), default_config.genes)
    for gene in GENE_NAMES:
        got_low, got_high = getattr(low, gene), getattr(high, gene)
        assert got_low == lists[gene][0], gene
        assert got_high == lists[gene][-1], gene


def test_knob_values_at_known_features():
    ranges = KnobRanges()
    knobs = features_to_knobs(CAFeatures(0.5, 0.25, 1.0, 0.0), ranges)
    # temperature drive = 0.5 * 0.5 + 0.5 * min(1, 2 * 0.25) = 0.5
    assert knobs.temperature == pytest.approx(0.2 + 0.5 * 1.0)
    assert knobs.top_p == pytest.approx(0.7 + (0.5 * 0.5 - 0.5 * 1.0 + 0.5) * 0.3)
    assert knobs.top_k == math.floor(10 + 0.5 * 90 + 0.5)
    assert knobs.repetition_penalty == pytest.approx(1.3)
    assert knobs.max_new_tokens == 256
    assert knobs.do_sample is True
    quiet = features_to_knobs(CAFeatures(0.1, 0.05, 1.0, 1.0), ranges)
    assert quiet.do_sample is False  # temperature drive 0.1 <= sample_threshold 0.15


def test_derive_knobs_runs_the_whole_chain(quick_config):
    seed = seed_from_cells([(3, 2), (3, 3), (3, 4)], 8, "B3/S23", 10)
    assert derive_knobs(seed, quick_config.knobs) == features_to_knobs(
        seed_features(seed), quick_config.knobs
    )
