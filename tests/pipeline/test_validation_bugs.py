"""The injected validation bugs' recipe: off by default (keys unchanged), in every genome key
when on, refused without `edit` patches, and never used before it is built."""

from __future__ import annotations

import pytest

from coral_dagster.domain.config import ConfigError, load_config, parse_config
from coral_dagster.pipeline.inputs import load_inputs
from coral_dagster.pipeline.records import ValidationBug, ValidationBugs
from coral_dagster.pipeline.store import ArtifactMissing, ArtifactStore
from coral_dagster.pipeline.validation_bugs import evaluation_inputs, with_validation_bugs

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
