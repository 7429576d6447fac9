"""Experiment inputs: the loaded problems, their split and the key context, without any model.

``key_context(config)`` fingerprints the base model's source files, the train split's
(buggy -> fixed) pairs and the evaluation context (validation problems and the recipe of the
injected validation bugs, prompt template version, generation seed, sandbox limits, objective
weights), so that:

    adapter_key = H(heavy genes, base model id, training data fingerprint, training config)
    genome_key  = H(adapter_key, CA seed, cheap knobs, evaluation fingerprint)

A different base model, train split, prompt or scoring setup never reuses a stale artifact.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from coral_dagster.benchmark.problems import ProblemLoadError, ProblemSet, load_problem_set
from coral_dagster.benchmark.splits import Split, split_problems
from coral_dagster.domain.config import ExperimentConfig
from coral_dagster.domain.hashing import content_hash
from coral_dagster.domain.records import KeyContext
from coral_dagster.model.base_model import base_model_fingerprint
from coral_dagster.model.versions import (
    PROGRAM_SCORE_VERSION,
    PROMPT_TEMPLATE_VERSION,
    TRAINING_CODE_VERSION,
)
from coral_dagster.pipeline.corpus import corpus_fingerprint
from coral_dagster.pipeline.validation_bugs import validation_bugs_fingerprint


def first(names: tuple[str, ...], limit: int | None) -> tuple[str, ...]:
    """The first ``limit`` names (all of them when ``limit`` is None)."""
    return names[:limit] if limit else names


@dataclass(frozen=True)
class ExperimentInputs:
    """The loaded problem set, its split, the held-out problems and the key context of one
    experiment config. ``heldout_set`` is ``benchmark.heldout_dataset`` (every program of it is
    held out) or, without one, the problem set itself (its test split is held out)."""

    config: ExperimentConfig
    problem_set: ProblemSet
    split: Split
    key_context: KeyContext
    heldout_set: ProblemSet
    validation_bugs_fingerprint: str | None = None  # None: the config adds no validation bugs
    added_validation: tuple[str, ...] = ()  # injected validation bugs (``with_validation_bugs``)

    @property
    def own_validation_names(self) -> tuple[str, ...]:
        """The validation programs (their own bugs)."""
        return first(self.split.validation, self.config.benchmark.max_validation_problems)

    @property
    def validation_names(self) -> tuple[str, ...]:
        """Every validation problem: the programs' own bugs, then the injected ones added."""
        return self.own_validation_names + self.added_validation

    @property
    def test_names(self) -> tuple[str, ...]:
        names = (
            self.heldout_set.names()
            if self.config.benchmark.heldout_dataset is not None
            else self.split.test
        )
        return first(names, self.config.benchmark.max_test_problems)


def training_config_for_key(config: ExperimentConfig) -> dict[str, Any]:
    """The training settings that change an adapter: the training section, the configured
    dtype (float32 and bfloat16 training give different weights), the examples' format (whole
    functions; line answers with or without localisation: ``line`` and ``edit`` with line
    scores train on the same line examples, so they share adapters; plain programs for the
    program score, with its encoding's version), the prompt template and the training code's
    version; with the ranking loss on, its weight, negatives, candidate score, candidate cap and
    (``edit``) what its positive is."""
    if config.patch.format == "function":
        examples = "function"
    elif config.patch.candidate_score == "program":
        examples = "program"
    else:
        examples = "line"
    training = config.training.model_dump(mode="json")
    if config.training.ranking_weight == 0:
        # Without the ranking loss its settings change nothing, and adapters keep the keys they
        # had before it existed (stored adapters stay valid); with it, the score it orders does.
        del training["ranking_weight"], training["ranking_negatives"]
    else:
        # The negatives are edit candidates of the fix's place, capped by max_candidates; in
        # `edit` format the positive is the candidate that makes the fix, where one does.
        training["ranking_score"] = config.patch.candidate_score
        training["ranking_max_candidates"] = config.patch.max_candidates
        if config.patch.format == "edit":
            training["ranking_positive"] = "fix candidate"
    if examples == "program":
        training["program_score"] = PROGRAM_SCORE_VERSION
    return {
        **training,
        "dtype": config.model.dtype,
        "examples": examples,
        "localization": None if examples == "function" else config.patch.localization,
        "prompt_template": PROMPT_TEMPLATE_VERSION,
        "code_version": TRAINING_CODE_VERSION,
    }


def evaluation_fingerprint(
    config: ExperimentConfig, problem_set: ProblemSet, names, validation_bugs: str | None = None
) -> str:
    context = {
        "validation": [[n, problem_set.problems[n].fingerprint()] for n in names],
        "support": dict(problem_set.support_files),
        "prompt_template": PROMPT_TEMPLATE_VERSION,
        "generation": config.generation.model_dump(mode="json"),
        "patch": config.patch.model_dump(mode="json"),
        "sandbox": config.sandbox.model_dump(mode="json"),
        "weights": config.weights.as_dict(),
    }
    if config.patch.candidate_score == "program":  # absent otherwise: other keys stay as they were
        context["program_score"] = PROGRAM_SCORE_VERSION
    if validation_bugs is not None:  # absent without injected validation bugs, likewise
        context["validation_bugs"] = validation_bugs
    return content_hash(context)


def load_inputs(config: ExperimentConfig) -> ExperimentInputs:
    """Load the problem set, split it and compute the key context for ``config``."""
    problem_set = load_problem_set(config.benchmark.dataset)
    split = split_problems(problem_set.names(), config.benchmark.split)
    validation = first(split.validation, config.benchmark.max_validation_problems)
    heldout_set = problem_set
    if config.benchmark.heldout_dataset is not None:
        heldout_set = load_problem_set(config.benchmark.heldout_dataset)
        check_heldout_disjoint(problem_set, split, heldout_set)
    base_model_id = base_model_fingerprint(config.model.base_model)
    bugs = validation_bugs_fingerprint(config, problem_set, validation, base_model_id)
    context = KeyContext(
        base_model_id=base_model_id,
        training_data_fingerprint=corpus_fingerprint(problem_set, split, config.corpus),
        training_config=training_config_for_key(config),
        evaluation_fingerprint=evaluation_fingerprint(config, problem_set, validation, bugs),
    )
    return ExperimentInputs(
        config=config,
        problem_set=problem_set,
        split=split,
        key_context=context,
        heldout_set=heldout_set,
        validation_bugs_fingerprint=bugs,
    )


def check_heldout_disjoint(problem_set: ProblemSet, split: Split, heldout: ProblemSet) -> None:
    """No held-out program may be trained on or selected with: by name or by content."""
    used = [*split.train, *split.validation]
    same_name = sorted(set(used) & set(heldout.names()))
    contents = {problem_set.problems[n].correct_source for n in used} | {
        problem_set.problems[n].buggy_source for n in used
    }
    same_code = sorted(
        n
        for n, p in heldout.problems.items()
        if p.correct_source in contents or p.buggy_source in contents
    )
    if same_name or same_code:
        raise ProblemLoadError(
            f"held-out dataset {heldout.root} shares programs with the train/validation split "
            f"of {problem_set.root}: {sorted(set(same_name) | set(same_code))}"
        )


def experiment_id(config: ExperimentConfig) -> str:
    """Short content hash of the config without its ``execution`` section (which changes where
    work runs, not what it computes): tags every run of one experiment."""
    dump = config.model_dump(mode="json", exclude={"execution"})
    if config.benchmark.validation_bugs.mutants_per_program == 0:
        # added later and off: experiments from before it existed keep their id (and homes)
        del dump["benchmark"]["validation_bugs"]
    return content_hash(dump)[:16]


def key_context(config: ExperimentConfig) -> KeyContext:
    """The key context of ``config`` (used by ``coral population``)."""
    return load_inputs(config).key_context
