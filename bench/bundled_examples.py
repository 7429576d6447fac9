"""What the training benchmarks share: their adapter genes, the base model and, as training
examples, the bundled problems' own bugs (``bench/ranking_training.py``,
``bench/response_logits.py``)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from coral_dagster.benchmark.corpus import bundled_pair
from coral_dagster.benchmark.problems import load_problem_set
from coral_dagster.domain.config import parse_config
from coral_dagster.domain.genome import HeavyGenes
from coral_dagster.model.base_model import ResolvedBaseModel, resolve_base_model
from coral_dagster.pipeline.adapters import training_examples
from coral_dagster.pipeline.inputs import load_inputs

# The evolved genes of the QuixBugs runs: r16, alpha 16, q/v, lr 0.002.
GENES = HeavyGenes(16, 16, 0.05, ("q_proj", "v_proj"), "lora", 2e-3)


def bench_base_model(spec: str) -> ResolvedBaseModel:
    """``spec`` resolved under ``CORAL_CACHE_DIR`` (a fresh temporary folder when unset)."""
    cache_dir = Path(os.environ.get("CORAL_CACHE_DIR", tempfile.mkdtemp(prefix="coral-bench-")))
    return resolve_base_model(spec, cache_dir)


def bundled_examples(programs: int, config: dict[str, Any]) -> list:
    """The training examples (``pipeline.adapters.training_examples`` under ``config``, a raw
    experiment config) of the first ``programs`` bundled problems' own bugs, by name."""
    problems = load_problem_set("bundled")
    pairs = [bundled_pair(problems, name) for name in sorted(problems.problems)[:programs]]
    return training_examples(load_inputs(parse_config(config)), pairs)
