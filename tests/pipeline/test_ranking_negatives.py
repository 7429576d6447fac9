"""The ranking loss's negatives: wrong edits of the fix's place, seeded, never the fix; its
settings enter adapter keys only when it is on."""

from __future__ import annotations

import ast

import pytest

from coral_dagster.benchmark.corpus import BugPair, bundled_pair
from coral_dagster.benchmark.problems import load_problem_set
from coral_dagster.domain.config import ConfigError, parse_config
from coral_dagster.model.training import LineTrainingExample, ProgramTrainingExample
from coral_dagster.pipeline import adapters
from coral_dagster.pipeline.adapters import ranking_negatives, training_examples
from coral_dagster.pipeline.inputs import load_inputs, training_config_for_key
from coral_dagster.pipeline.repair import edit_candidates, oracle_place

PROGRAMS = ("gray_code", "digit_sum", "look_and_say")


@pytest.fixture(scope="module")
def bundled():
    return load_problem_set("bundled")


def _inputs(training: dict, patch: dict | None = None):
    return load_inputs(parse_config({"training": training, "patch": patch or {"format": "edit"}}))


@pytest.mark.parametrize("name", PROGRAMS)
def test_negatives_are_seeded_wrong_edits_of_the_fix_place(bundled, name: str) -> None:
    pair = bundled_pair(bundled, name)
    inputs = _inputs({"ranking_weight": 1.0, "ranking_negatives": 5})
    drawn = ranking_negatives(pair, inputs)
    negatives = [c.answer for c in drawn]
    assert 0 < len(negatives) <= 5 and len(set(negatives)) == len(negatives)
    assert drawn == ranking_negatives(pair, inputs)  # seeded

    place = oracle_place(bundled, name)
    assert (place.start, place.count) == (pair.hunk_start, pair.hunk_count)
    programs = {
        c.answer: c.program
        for c in edit_candidates(name, pair.buggy_source, place, inputs.config.patch)
    }
    fixed = ast.dump(ast.parse(pair.fixed_source))
    fixing = [a for a, p in programs.items() if ast.dump(ast.parse(p)) == fixed]
    assert set(negatives) <= set(programs) and not set(negatives) & set(fixing)
    assert all(programs[c.answer] == c.program for c in drawn)
    everything = [
        c.answer
        for c in ranking_negatives(
            pair, _inputs({"ranking_weight": 1.0, "ranking_negatives": 1000})
        )
    ]
    assert set(everything) == set(programs) - set(fixing)
    other_seed = [
        c.answer
        for c in ranking_negatives(
            pair, _inputs({"ranking_weight": 1.0, "ranking_negatives": 5, "seed": 1})
        )
    ]
    assert len(other_seed) == len(negatives) and set(other_seed) <= set(everything)


def test_off_the_examples_have_no_negatives_and_keys_do_not_change(bundled) -> None:
    pairs = [bundled_pair(bundled, n) for n in PROGRAMS]
    off = _inputs({})
    assert all(e.negatives == () for e in training_examples(off, pairs))
    assert "ranking_weight" not in training_config_for_key(off.config)
    on = _inputs({"ranking_weight": 0.5})
    assert all(e.negatives for e in training_examples(on, pairs))
    key = training_config_for_key(on.config)
    assert key["ranking_weight"] == 0.5 and key["ranking_negatives"] == 8
    assert key["ranking_score"] == "mean"
    summed = _inputs({"ranking_weight": 0.5}, {"format": "edit", "candidate_score": "sum"})
    assert training_config_for_key(summed.config)["ranking_score"] == "sum"
    assert all(isinstance(e, LineTrainingExample) for e in training_examples(on, pairs))
    # The cap on a place's candidates bounds where negatives come from: part of the key when
    # the ranking loss is on, and nothing to the key when it is off.
    capped = _inputs({"ranking_weight": 0.5}, {"format": "edit", "max_candidates": 3})
    assert key["ranking_max_candidates"] == 200
    assert training_config_for_key(capped.config)["ranking_max_candidates"] == 3
    capped_off = _inputs({}, {"format": "edit", "max_candidates": 3})
    assert training_config_for_key(capped_off.config) == training_config_for_key(off.config)


def test_program_examples_are_the_pairs_programs_with_the_negatives_programs(bundled) -> None:
    pairs = [bundled_pair(bundled, n) for n in PROGRAMS]
    inputs = _inputs({"ranking_weight": 1.0}, {"format": "edit", "candidate_score": "program"})
    assert training_config_for_key(inputs.config)["ranking_score"] == "program"
    for pair, example in zip(pairs, training_examples(inputs, pairs), strict=True):
        drawn = ranking_negatives(pair, inputs)
        assert example == ProgramTrainingExample(
            pair.program, pair.buggy_source, pair.fixed_source, tuple(c.program for c in drawn)
        )
    off = _inputs({}, {"format": "edit", "candidate_score": "program"})
    assert [e.negatives for e in training_examples(off, pairs)] == [()] * len(pairs)


def test_without_localisation_negatives_come_from_every_line(bundled) -> None:
    pair = bundled_pair(bundled, "gray_code")
    inputs = _inputs({"ranking_weight": 1.0}, {"format": "edit", "localization": "none"})
    [example] = training_examples(inputs, [pair])
    assert example.negatives and example.answer not in example.negatives
    assert all(n.split(":", 1)[0].strip().isdigit() for n in example.negatives)


def test_the_ranking_loss_needs_line_answers() -> None:
    with pytest.raises(ConfigError, match=r"training.ranking_weight.*needs patch.format"):
        parse_config({"training": {"ranking_weight": 1.0}, "patch": {"format": "function"}})


def test_without_localisation_an_insertion_pair_is_left_out(bundled, monkeypatch) -> None:
    """A missing line has no line number to answer with: the pair is no example, and no
    negatives are drawn for it; with oracle localisation it is one."""
    pair = bundled_pair(bundled, "digit_sum")  # its bug is on line 3, `n = abs(n)`
    lines = pair.fixed_source.splitlines(keepends=True)
    missing = lines.pop(2)
    insertion = BugPair(
        pair.program,
        "injected",
        "delete_statement",
        "".join(lines),
        pair.fixed_source,
        3,
        0,
        (missing.rstrip("\n"),),
    )
    none = _inputs({"ranking_weight": 1.0}, {"format": "edit", "localization": "none"})
    drawn_for = []

    def recording_negatives(bug_pair, inputs):
        drawn_for.append(bug_pair.hunk_count)
        return ranking_negatives(bug_pair, inputs)

    monkeypatch.setattr(adapters, "ranking_negatives", recording_negatives)
    [example] = training_examples(none, [insertion, pair])
    assert example.answer.startswith(f"{pair.hunk_start}:") and drawn_for == [pair.hunk_count]
    monkeypatch.undo()
    [example] = training_examples(_inputs({"ranking_weight": 1.0}), [insertion])
    assert example.task.count == 0 and example.negatives
