"""The injected-bug corpus: real bugs only, deterministic, from the train split only."""

from __future__ import annotations

from pathlib import Path

import pytest

from coral_dagster.benchmark.corpus import BUNDLED, inject_bugs
from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.problems import load_problem_set
from coral_dagster.domain.config import CorpusConfig, parse_config
from coral_dagster.pipeline.corpus import (
    corpus_fingerprint,
    corpus_sandbox,
    ensure_corpus,
    load_corpus,
)
from coral_dagster.pipeline.inputs import load_inputs
from coral_dagster.pipeline.store import ArtifactStore

PROGRAMS = ("gray_code", "digit_sum", "look_and_say")


@pytest.fixture(scope="module")
def bundled():
    return load_problem_set("bundled")


@pytest.fixture(scope="module")
def evaluator(bundled):
    config = parse_config({}).sandbox
    return Evaluator(bundled, corpus_sandbox(config))


def test_every_injected_pair_is_a_real_bug_placed_where_the_fix_goes(bundled, evaluator):
    pairs = inject_bugs(bundled, PROGRAMS, 6, seed=3, evaluator=evaluator)
    assert [p.program for p in pairs[:3]] == list(PROGRAMS)  # the bundled pairs come first
    assert all(p.origin == BUNDLED for p in pairs[:3])
    injected = pairs[3:]
    assert injected and {p.program for p in injected} <= set(PROGRAMS)
    results = evaluator.evaluate_many([(p.program, p.buggy_source) for p in injected])
    for pair, result in zip(injected, results, strict=True):
        assert any(t.verdict in ("fail", "error") for t in result.tests), pair  # a real bug
        assert pair.fixed_source == bundled.problems[pair.program].correct_source
        lines = pair.buggy_source.splitlines()
        fixed = pair.fixed_source.splitlines()
        if pair.hunk_count == 0:  # a deleted line: the fix inserts it back
            assert (
                lines[: pair.hunk_start - 1] + list(pair.fixed_lines) + lines[pair.hunk_start - 1 :]
                == fixed
            )
        else:
            assert lines[pair.hunk_start - 1] != fixed[pair.hunk_start - 1]
            assert (pair.fixed_lines[0],) == (fixed[pair.hunk_start - 1],)
    assert len({p.buggy_source for p in pairs}) == len(pairs)  # deduplicated


def test_the_corpus_is_deterministic_and_seeded(bundled, evaluator):
    first = inject_bugs(bundled, PROGRAMS, 5, seed=1, evaluator=evaluator)
    again = inject_bugs(bundled, PROGRAMS, 5, seed=1, evaluator=evaluator)
    other = inject_bugs(bundled, PROGRAMS, 5, seed=2, evaluator=evaluator)
    assert first == again
    assert [p.buggy_source for p in first] != [p.buggy_source for p in other]


def test_the_stored_corpus_round_trips_and_is_built_once(tmp_path: Path, bundled, evaluator):
    config = parse_config({"corpus": {"mutants_per_program": 2, "seed": 4}})
    inputs = load_inputs(config)
    store = ArtifactStore(tmp_path / "store")
    built = ensure_corpus(
        store, bundled, inputs.split, config.corpus, evaluator, tmp_path / "cache"
    )
    assert not built.cached and built.pairs == sum(built.by_program.values())
    assert built.by_origin[BUNDLED] == len(inputs.split.train)
    again = ensure_corpus(
        store, bundled, inputs.split, config.corpus, evaluator, tmp_path / "cache"
    )
    assert again.cached and again == type(again)(**{**built.__dict__, "cached": True})
    rows = load_corpus(store, built.fingerprint, tmp_path / "cache")
    assert built.fingerprint == inputs.key_context.training_data_fingerprint
    # Only train programs: no validation or test program, by name or by code.
    held = [*inputs.split.validation, *inputs.split.test]
    assert {r["program"] for r in rows} <= set(inputs.split.train)
    held_code = {bundled.problems[n].correct_source for n in held} | {
        bundled.problems[n].buggy_source for n in held
    }
    assert not {r["buggy_source"] for r in rows} & held_code
    assert not {r["fixed_source"] for r in rows} & held_code


def test_the_fingerprint_follows_the_recipe(bundled):
    inputs = load_inputs(parse_config({}))
    base = corpus_fingerprint(bundled, inputs.split, CorpusConfig())
    assert base == corpus_fingerprint(bundled, inputs.split, CorpusConfig())
    assert base != corpus_fingerprint(bundled, inputs.split, CorpusConfig(seed=1))
    assert base != corpus_fingerprint(bundled, inputs.split, CorpusConfig(mutants_per_program=3))


def test_a_heldout_dataset_never_enters_training(tmp_path: Path, bundled):
    """A QuixBugs-layout held-out set is loaded apart; sharing a program is an error."""
    layout = tmp_path / "heldout"
    for sub in ("python_programs", "correct_python_programs", "json_testcases"):
        (layout / sub).mkdir(parents=True)
    (layout / "python_programs" / "twice.py").write_text("def twice(x):\n    return x + x + 1\n")
    (layout / "correct_python_programs" / "twice.py").write_text(
        "def twice(x):\n    return 2 * x\n"
    )
    (layout / "json_testcases" / "twice.json").write_text("[[1], 2]\n[[4], 8]\n")
    inputs = load_inputs(parse_config({"benchmark": {"heldout_dataset": str(layout)}}))
    assert inputs.test_names == ("twice",)
    assert "twice" not in inputs.problem_set.problems
    # The same program under the held-out set's name would be a leak: refused.
    name = inputs.split.train[0]
    problem = bundled.problems[name]
    (layout / "python_programs" / f"{name}.py").write_text(problem.buggy_source)
    (layout / "correct_python_programs" / f"{name}.py").write_text(problem.correct_source)
    (layout / "json_testcases" / f"{name}.json").write_text("[[1], 2]\n")
    with pytest.raises(
        ValueError, match=f"shares programs with the train/validation split.*{name}"
    ):
        load_inputs(parse_config({"benchmark": {"heldout_dataset": str(layout)}}))


def test_line_and_edit_patches_share_adapters_but_not_genomes():
    from coral_dagster.domain.population import initial_population
    from coral_dagster.domain.records import population_keys

    def keys(patch):
        config = parse_config({"patch": patch})
        rows = population_keys(initial_population(config), config, load_inputs(config).key_context)
        return [r[2] for r in rows], [r[3] for r in rows]

    line, edit, none = (
        keys({"format": "line"}),
        keys({"format": "edit"}),
        keys({"format": "edit", "localization": "none"}),
    )
    function = keys({"format": "function"})
    assert line[0] == edit[0] and line[1] != edit[1]  # same adapters, other genomes
    assert none[0] != edit[0] and function[0] != line[0]  # other training examples
    distinct = keys({"format": "edit", "draws": "distinct"})
    assert distinct[0] == edit[0] and distinct[1] != edit[1]  # how candidates are drawn


def test_the_bugfix_aggregation_is_part_of_the_genome_key():
    from coral_dagster.domain.population import initial_population
    from coral_dagster.domain.records import population_keys

    def keys(bugfix):
        config = parse_config({"generation": {"samples_per_problem": 2, "bugfix": bugfix}})
        rows = population_keys(initial_population(config), config, load_inputs(config).key_context)
        return [r[2] for r in rows], [r[3] for r in rows]

    mean, best = keys("mean"), keys("best")
    assert mean[0] == best[0] and mean[1] != best[1]  # same adapters, other scores
