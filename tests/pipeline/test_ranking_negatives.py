"""The ranking loss's candidates: wrong edits of the fix's place, seeded, never the fix; the fix
as generation writes it where an edit makes it; its settings enter adapter keys only when it is
on."""

from __future__ import annotations

import ast
import dataclasses

import pytest

from coral_dagster.benchmark.corpus import BugPair, bundled_pair
from coral_dagster.benchmark.problems import load_problem_set
from coral_dagster.domain.config import ConfigError, parse_config
from coral_dagster.model.training import LineTrainingExample, ProgramTrainingExample
from coral_dagster.pipeline import adapters
from coral_dagster.pipeline.adapters import ranking_candidates, training_examples
from coral_dagster.pipeline.inputs import load_inputs, training_config_for_key
from coral_dagster.pipeline.repair import edit_candidates, oracle_place

PROGRAMS = ("gray_code", "digit_sum", "look_and_say")  # no single edit fixes them
REACHABLE = "divisors_list"  # an edit fixes it


@pytest.fixture(scope="module")
def bundled():
    return load_problem_set("bundled")


def _inputs(training: dict, patch: dict | None = None):
    return load_inputs(parse_config({"training": training, "patch": patch or {"format": "edit"}}))


@pytest.mark.parametrize("name", PROGRAMS)
def test_negatives_are_seeded_wrong_edits_of_the_fix_place(bundled, name: str) -> None:
    pair = bundled_pair(bundled, name)
    inputs = _inputs({"ranking_weight": 1.0, "ranking_negatives": 5})
    fix, drawn = ranking_candidates(pair, inputs)
    negatives = [c.answer for c in drawn]
    assert 0 < len(negatives) <= 5 and len(set(negatives)) == len(negatives)
    assert (fix, drawn) == ranking_candidates(pair, inputs)  # seeded
    assert fix is None  # these fixes are out of an edit's reach: the human fix stays

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
        for c in ranking_candidates(
            pair, _inputs({"ranking_weight": 1.0, "ranking_negatives": 1000})
        )[1]
    ]
    assert set(everything) == set(programs) - set(fixing)
    other_seed = [
        c.answer
        for c in ranking_candidates(
            pair, _inputs({"ranking_weight": 1.0, "ranking_negatives": 5, "seed": 1})
        )[1]
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
    assert key["ranking_score"] == "mean" and key["ranking_positive"] == "fix candidate"
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
        fix, drawn = ranking_candidates(pair, inputs)
        assert fix is None  # no edit fixes these: the example keeps the human fix
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


def test_a_fix_an_edit_makes_is_ranked_as_that_candidate(bundled) -> None:
    pair = bundled_pair(bundled, REACHABLE)
    for score in ("mean", "program"):
        inputs = _inputs({"ranking_weight": 1.0}, {"format": "edit", "candidate_score": score})
        fix, negatives = ranking_candidates(pair, inputs)
        assert fix.program == pair.fixed_source and fix not in negatives and negatives
        [example] = training_examples(inputs, [pair])
        assert (example.fixed_source if score == "program" else example.answer) == (
            fix.program if score == "program" else fix.answer
        )
        off = _inputs({}, {"format": "edit", "candidate_score": score})
        [plain] = training_examples(off, [pair])  # the same positive, without negatives
        assert plain == dataclasses.replace(example, negatives=())


def _caesar_mutant(bundled) -> BugPair:
    """caesar_shift with `"A" <= char` turned into `"A" < char`: the edit that fixes it is
    spelled `'A' <= char` (the mutation code's quotes)."""
    correct = bundled.problems["caesar_shift"].correct_source
    lines = correct.splitlines(keepends=True)
    lineno = next(i for i, line in enumerate(lines, 1) if 'elif "A" <= char' in line)
    original = lines[lineno - 1].rstrip("\n")
    lines[lineno - 1] = lines[lineno - 1].replace('"A" <= char', '"A" < char')
    return BugPair(
        "caesar_shift", "injected", "comparison", "".join(lines), correct, lineno, 1, (original,)
    )


def test_the_positive_is_the_fix_as_generation_writes_it(bundled) -> None:
    """A mutant whose fixing edit is written with other quotes than the human line: the positive
    is that candidate's text (the model never sees the human spelling among the candidates)."""
    pair = _caesar_mutant(bundled)
    correct = pair.fixed_source
    for score in ("mean", "program"):
        inputs = _inputs({"ranking_weight": 1.0}, {"format": "edit", "candidate_score": score})
        fix, negatives = ranking_candidates(pair, inputs)
        assert fix.program != correct
        assert ast.dump(ast.parse(fix.program)) == ast.dump(ast.parse(correct))
        assert negatives and fix not in negatives
        [example] = training_examples(inputs, [pair])
        if score == "program":
            assert example.fixed_source == fix.program
            assert example.negatives == tuple(c.program for c in negatives)
        else:
            assert example.answer == fix.answer and "'A' <= char" in fix.answer
            assert example.negatives == tuple(c.answer for c in negatives)
        off = _inputs({}, {"format": "edit", "candidate_score": score})
        [plain] = training_examples(off, [pair])  # without the loss: the human line, as before
        if score == "program":
            assert plain.fixed_source == correct
        else:
            assert '"A" <= char' in plain.answer


def test_the_candidate_spelled_as_the_fixed_program_is_preferred(bundled, monkeypatch) -> None:
    """Of several candidates that fix the pair, the one whose text is the fixed program's."""
    pair = bundled_pair(bundled, REACHABLE)
    inputs = _inputs({"ranking_weight": 1.0})
    real = adapters.edit_candidates(
        pair.program, pair.buggy_source, oracle_place(bundled, REACHABLE), inputs.config.patch
    )
    [same] = [c for c in real if c.program == pair.fixed_source]
    respelled = dataclasses.replace(same, answer=same.answer + "  ", program=same.program + "\n")
    wrong = [c for c in real if c is not same]
    monkeypatch.setattr(adapters, "edit_candidates", lambda *a: [respelled, same, *wrong])
    fix, negatives = ranking_candidates(pair, inputs)
    assert fix == same and respelled not in negatives and negatives
    monkeypatch.setattr(adapters, "edit_candidates", lambda *a: [respelled, *wrong])
    assert ranking_candidates(pair, inputs)[0] == respelled  # the only fix, spelled otherwise


def test_line_answers_keep_the_human_fix_and_their_own_key(bundled) -> None:
    """`line` answers are the model's own text: the ranked fix stays the human line, so line
    and edit adapters with the loss on no longer share a key (they do with it off)."""
    pair = _caesar_mutant(bundled)
    line = _inputs({"ranking_weight": 1.0}, {"format": "line"})
    [example] = training_examples(line, [pair])
    assert '"A" <= char' in example.answer and example.negatives
    edit = _inputs({"ranking_weight": 1.0}, {"format": "edit"})
    assert "ranking_positive" not in training_config_for_key(line.config)
    assert training_config_for_key(edit.config)["ranking_positive"] == "fix candidate"
    assert training_config_for_key(_inputs({}, {"format": "line"}).config) == (
        training_config_for_key(_inputs({}, {"format": "edit"}).config)
    )


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

    def recording_candidates(bug_pair, inputs):
        drawn_for.append(bug_pair.hunk_count)
        return ranking_candidates(bug_pair, inputs)

    monkeypatch.setattr(adapters, "ranking_candidates", recording_candidates)
    [example] = training_examples(none, [insertion, pair])
    assert example.answer.startswith(f"{pair.hunk_start}:") and drawn_for == [pair.hunk_count]
    monkeypatch.undo()
    [example] = training_examples(_inputs({"ranking_weight": 1.0}), [insertion])
    assert example.task.count == 0 and example.negatives
