"""Experiment inputs: the loaded problems, their split and the key context, without any model.

``key_context(config)`` fingerprints the base model's source files, the train split's
(buggy -> fixed) pairs and the evaluation context (validation problems, prompt template
version, generation seed, sandbox limits, objective weights), so that:

    adapter_key = H(heavy genes, base model id, training data fingerprint, training config)
    genome_key  = H(adapter_key, CA seed, cheap knobs, evaluation fingerprint)

A different base model, train split, prompt or scoring setup never reuses a stale artifact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coral_dagster.benchmark.problems import ProblemSet, load_problem_set
from coral_dagster.benchmark.splits import Split, split_problems
from coral_dagster.domain.config import ExperimentConfig
from coral_dagster.domain.hashing import content_hash
from coral_dagster.domain.records import KeyContext
from coral_dagster.model.base_model import base_model_fingerprint
from coral_dagster.model.versions import PROMPT_TEMPLATE_VERSION, TRAINING_CODE_VERSION


def first(names: tuple[str, ...], limit: int | None) -> tuple[str, ...]:
    """The first ``limit`` names (all of them when ``limit`` is None)."""
    return names[:limit] if limit else names


@dataclass(frozen=True)
class ExperimentInputs:
    """The loaded problem set, its split and the key context of one experiment config."""

    config: ExperimentConfig
    problem_set: ProblemSet
    split: Split
    key_context: KeyContext

    @property
    def validation_names(self) -> tuple[str, ...]:
        return first(self.split.validation, self.config.benchmark.max_validation_problems)

    @property
    def test_names(self) -> tuple[str, ...]:
        return first(self.split.test, self.config.benchmark.max_test_problems)


def training_config_for_key(config: ExperimentConfig) -> dict[str, Any]:
    """The training settings that change an adapter: the training section, the configured
    dtype (float32 and bfloat16 training give different weights), the prompt template and the
    training code's version."""
    return {
        **config.training.model_dump(mode="json"),
        "dtype": config.model.dtype,
        "prompt_template": PROMPT_TEMPLATE_VERSION,
        "code_version": TRAINING_CODE_VERSION,
    }


def training_data_fingerprint(problem_set: ProblemSet, split: Split) -> str:
    return content_hash(
        {
            "train": [[n, problem_set.problems[n].fingerprint()] for n in split.train],
            "support": dict(problem_set.support_files),
        }
    )


def evaluation_fingerprint(config: ExperimentConfig, problem_set: ProblemSet, names) -> str:
    return content_hash(
        {
            "validation": [[n, problem_set.problems[n].fingerprint()] for n in names],
            "support": dict(problem_set.support_files),
            "prompt_template": PROMPT_TEMPLATE_VERSION,
            "generation": config.generation.model_dump(mode="json"),
            "sandbox": config.sandbox.model_dump(mode="json"),
            "weights": config.weights.as_dict(),
        }
    )


def load_inputs(config: ExperimentConfig) -> ExperimentInputs:
    """Load the problem set, split it and compute the key context for ``config``."""
    problem_set = load_problem_set(config.benchmark.dataset)
    split = split_problems(problem_set.names(), config.benchmark.split)
    validation = first(split.validation, config.benchmark.max_validation_problems)
    context = KeyContext(
        base_model_id=base_model_fingerprint(config.model.base_model),
        training_data_fingerprint=training_data_fingerprint(problem_set, split),
        training_config=training_config_for_key(config),
        evaluation_fingerprint=evaluation_fingerprint(config, problem_set, validation),
    )
    return ExperimentInputs(
        config=config, problem_set=problem_set, split=split, key_context=context
    )


def experiment_id(config: ExperimentConfig) -> str:
    """Short content hash of the config without its ``execution`` section (which changes where
    work runs, not what it computes): tags every run of one experiment."""
    return content_hash(config.model_dump(mode="json", exclude={"execution"}))[:16]


def key_context(config: ExperimentConfig) -> KeyContext:
    """The key context of ``config`` (used by ``coral population``)."""
    return load_inputs(config).key_context
