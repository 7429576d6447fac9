"""Helpers shared by the platform tests (a tiny-random experiment config, instance counts, the
`coral` command line in a subprocess)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml
from dagster import AssetKey, DagsterInstance

from coral_dagster.domain.planner import Plan, StepRequest
from coral_dagster.orchestration.home import Home

# A small but complete experiment: tiny-random model, 2 generations of 4 genomes, real sandbox.
TINY_CONFIG = {
    "name": "tiny",
    "seed": 11,
    "population": {"size": 4, "grid_size": 6, "min_steps": 4, "max_steps": 10},
    "genes": {
        "ranks": [2, 4],
        "alphas": [4.0, 8.0],
        "dropouts": [0.0],
        "target_modules": [["q_proj", "v_proj"], ["q_proj", "k_proj", "v_proj", "o_proj"]],
        "adapter_types": ["lora", "dora"],
        "learning_rates": [0.001],
    },
    "knobs": {"max_new_tokens": {"low": 8, "high": 16}},
    "evolution": {"generations": 2, "elite_count": 1, "tournament_size": 2},
    "benchmark": {"max_validation_problems": 2, "max_test_problems": 2},
    "model": {"base_model": "tiny-random"},
    "training": {"max_steps": 2, "batch_size": 2, "max_length": 256},
    "generation": {"batch_size": 4},
    "heldout": {"samples_per_problem": 2, "top_genomes": 1, "bootstrap_resamples": 200},
    "corpus": {"mutants_per_program": 2},
}


def write_config(path: Path, **overrides) -> Path:
    config = {**TINY_CONFIG, **overrides}
    path.write_text(yaml.safe_dump(config, sort_keys=True))
    return path


ASSETS = [
    "problems",
    "base_model",
    "validation_bugs",
    "population",
    "adapters",
    "generated_code",
    "validation_scores",
    "heldout_evaluation",
    "evolution_report",
]


def evolve(home: Home, lines: list[str] | None = None) -> Plan:
    """``coral evolve``'s driver on ``home`` with the code location's definitions."""
    from coral_dagster.definitions import build_defs
    from coral_dagster.orchestration.driver import run_evolution

    sink = [] if lines is None else lines
    return run_evolution(home, build_defs(home.path), echo=sink.append)


def run_step(home: Home, instance: DagsterInstance, request: StepRequest, eid: str) -> bool:
    """One planned step as an in-process run of its job."""
    from coral_dagster.definitions import build_defs
    from coral_dagster.orchestration.driver import execute_step

    return execute_step(build_defs(home.path), instance, request, eid)


def materialization_counts(instance: DagsterInstance) -> Counter:
    """(asset, partition) -> number of materializations recorded in the instance."""
    counts: Counter = Counter()
    for name in ASSETS:
        for r in instance.fetch_materializations(AssetKey(name), limit=10_000).records:
            counts[(name, r.partition_key)] += 1
    return counts


def coral_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "coral_dagster.cli", *args]


def coral_env(model_cache: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "CORAL_CACHE_DIR": str(model_cache), "PYTHONUNBUFFERED": "1", **extra}


def coral(
    model_cache: Path, *args: str, timeout: float = 900, **extra: str
) -> subprocess.CompletedProcess:
    """``coral *args`` in a subprocess with the test session's model cache."""
    return subprocess.run(
        coral_cmd(*args),
        env=coral_env(model_cache, **extra),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
