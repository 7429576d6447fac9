"""The injected validation bugs' recipe: off by default (keys unchanged), in every genome key
when on, refused without `edit` patches, and never used before it is built."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from coral_dagster.benchmark.evaluator import CandidateResult, TestVerdict
from coral_dagster.domain.config import ConfigError, load_config, parse_config
from coral_dagster.pipeline.inputs import experiment_id, load_inputs
from coral_dagster.pipeline.records import ValidationBug, ValidationBugs
from coral_dagster.pipeline.store import ArtifactMissing, ArtifactStore
from coral_dagster.pipeline.validation_bugs import (
    ensure_validation_bugs,
    evaluation_inputs,
    fails_a_test,
    with_validation_bugs,
)

REPO = Path(__file__).resolve().parents[2]

BASE = {
    "model": {"base_model": "tiny-random"},
    "patch": {"format": "edit"},
    "benchmark": {"max_validation_problems": 2},
}


def inputs_with(**validation_bugs):
    benchmark = {**BASE["benchmark"], "validation_bugs": validation_bugs}
    return load_inputs(parse_config({**BASE, "benchmark": benchmark}))


def test_off_by_default_and_in_the_evaluation_fingerprint_when_on():
    off = load_inputs(parse_config(BASE))
    assert off.validation_bugs_fingerprint is None
    assert inputs_with(mutants_per_program=0).key_context == off.key_context
    on = inputs_with(mutants_per_program=3)
    other_seed = inputs_with(mutants_per_program=3, seed=1)
    fingerprints = {
        off.key_context.evaluation_fingerprint,
        on.key_context.evaluation_fingerprint,
        other_seed.key_context.evaluation_fingerprint,
    }
    assert len(fingerprints) == 3
    assert on.validation_bugs_fingerprint != other_seed.validation_bugs_fingerprint
    # adapters do not see the validation set
    assert on.key_context.training_data_fingerprint == off.key_context.training_data_fingerprint
    assert on.validation_names == off.validation_names  # nothing added before they are built


def test_hard_bugs_need_edit_patches(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(
        "patch: {format: line}\nbenchmark: {validation_bugs: {mutants_per_program: 2}}\n"
    )
    with pytest.raises(ConfigError, match=r"benchmark\.validation_bugs.*patch\.format: edit"):
        load_config(path)


def test_generation_refuses_to_run_before_the_bugs_are_built(tmp_path):
    inputs = inputs_with(mutants_per_program=2)
    store = ArtifactStore(tmp_path / "store")
    with pytest.raises(ArtifactMissing, match="materialize the validation_bugs asset"):
        evaluation_inputs(store, inputs)
    off = load_inputs(parse_config(BASE))
    assert evaluation_inputs(store, off) is off  # nothing to load


def test_stored_bugs_extend_the_validation_set_and_must_be_this_recipes(tmp_path):
    inputs = inputs_with(mutants_per_program=2)
    program = inputs.own_validation_names[0]
    origin = inputs.problem_set.problems[program]
    bug = ValidationBug(f"{program}~1", program, "variable", 3, origin.buggy_source, 2)
    record = ValidationBugs(inputs.validation_bugs_fingerprint, (bug,), {"hard": 1})
    store = ArtifactStore(tmp_path / "store")
    store.write_record(record, record.fingerprint)
    extended = evaluation_inputs(store, inputs)
    assert extended.validation_names == (*inputs.own_validation_names, bug.key)
    added = extended.problem_set.problems[bug.key]
    assert added.program == program and added.json_cases == origin.json_cases
    assert added.correct_source == origin.correct_source
    assert extended.key_context == inputs.key_context
    with pytest.raises(ValueError, match="not this experiment's"):
        with_validation_bugs(inputs_with(mutants_per_program=3), record)


def test_experiments_without_bugs_keep_the_id_they_had_before_the_setting_existed():
    # configs/quick.yaml's id as computed before `benchmark.validation_bugs` existed (12c82b8),
    # with the training it had then (12 steps, no ranking loss): its homes stay bound to it
    raw = yaml.safe_load((REPO / "configs" / "quick.yaml").read_text())
    raw["training"] = {
        k: v for k, v in raw["training"].items() if k not in ("ranking_weight", "ranking_negatives")
    } | {"max_steps": 12}
    assert experiment_id(parse_config(raw)) == "7df7077573b4759c"
    raw = {**BASE, "benchmark": {"validation_bugs": {"mutants_per_program": 2}}}
    assert experiment_id(parse_config(raw)) != experiment_id(parse_config(BASE))


def test_a_damaged_record_is_built_again(tmp_path):
    inputs = inputs_with(mutants_per_program=2)
    store = ArtifactStore(tmp_path / "store")
    fingerprint = inputs.validation_bugs_fingerprint
    built = ValidationBugs(fingerprint, (), {"sampled": 4, "hard": 0})
    calls = []

    def build():
        calls.append(1)
        return built

    assert ensure_validation_bugs(store, inputs, build) == (built, False)
    assert ensure_validation_bugs(store, inputs, build) == (built, True)
    path = Path(store.path(ValidationBugs.relpath(fingerprint)).path)
    path.write_text(path.read_text()[:20])  # truncated
    assert ensure_validation_bugs(store, inputs, build) == (built, False)
    assert len(calls) == 2
    assert store.read_record(ValidationBugs, fingerprint) == built


def verdicts(*pairs: tuple[str, str | None]) -> CandidateResult:
    tests = [TestVerdict(i, v, 0.01, e) for i, (v, e) in enumerate(pairs)]
    passed = sum(t.verdict == "pass" for t in tests)
    return CandidateResult("p", tests, passed, len(tests), {})


def test_only_wrong_results_and_exceptions_make_a_bug_or_a_failing_candidate():
    assert fails_a_test(verdicts(("pass", None), ("fail", None)))
    assert fails_a_test(verdicts(("error", "ZeroDivisionError")))
    assert not fails_a_test(verdicts(("pass", None), ("timeout", None)))
    assert not fails_a_test(verdicts(("pass", None), ("error", "ReferenceFailed")))  # the machine
