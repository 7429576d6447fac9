"""bench/repair.py derives one valid experiment config per patch format and localisation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from coral_dagster.domain.config import parse_config

REPO = Path(__file__).resolve().parents[1]


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_repair", REPO / "bench" / "repair.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_format_of_the_quixbugs_config_is_valid(tmp_path: Path):
    bench = load_bench()
    base = yaml.safe_load((REPO / "configs" / "quixbugs.yaml").read_text())
    assert base["patch"]["draws"] == "distinct"
    for fmt in ("edit", "line", "function"):
        for localization in ("oracle", "none"):
            config = parse_config(bench.run_config(base, tmp_path, fmt, localization))
            assert (config.patch.format, config.patch.localization) == (fmt, localization)
            assert config.benchmark.heldout_dataset == str(tmp_path)
            # distinct draws choose among edit candidates; free-text answers are sampled
            assert config.patch.draws == ("distinct" if fmt == "edit" else "independent")
            assert config.patch.candidate_score == ("program" if fmt == "edit" else "mean")
            assert config.generation.bugfix == "best"
            # hard validation bugs are chosen by the ranking of edit candidates
            bugs = config.benchmark.validation_bugs.mutants_per_program
            assert bugs == (6 if fmt == "edit" else 0)


def test_a_ranking_loss_config_leaves_it_out_of_whole_function_runs(tmp_path: Path):
    bench = load_bench()
    base = yaml.safe_load((REPO / "configs" / "quixbugs.yaml").read_text())
    base["training"]["ranking_weight"] = 1.0
    for fmt in ("edit", "line", "function"):
        config = parse_config(bench.run_config(base, tmp_path, fmt, "oracle"))
        assert config.training.ranking_weight == (0.0 if fmt == "function" else 1.0)


def test_perfect_ranking_takes_the_best_candidates_and_cycles_a_small_pool():
    bench = load_bench()
    rates = {
        "fixable": [0.2, 1.0, 0.5, 0.0],  # greedy 1.0; 3 distinct: (1.0 + 0.5 + 0.2) / 3
        "small": [0.4, 0.1],  # greedy 0.4; 3 distinct cycle the pool: (0.4 + 0.1 + 0.4) / 3
        "none": [],  # no candidate: every sample fails
    }
    greedy, distinct = bench.perfect_ranking(rates, 3)
    assert greedy == pytest.approx((1.0 + 0.4 + 0.0) / 3)
    assert distinct == pytest.approx((1.7 / 3 + 0.9 / 3 + 0.0) / 3)
