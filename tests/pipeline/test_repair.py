"""Patch formats: edit candidates, drawing with knobs, line answers, no-localisation answers."""

from __future__ import annotations

import dataclasses
import functools

import pytest

from coral_dagster.benchmark.problems import load_problem_set
from coral_dagster.domain.config import PatchConfig
from coral_dagster.domain.genome import CheapKnobs
from coral_dagster.model.base_model import resolve_base_model
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.pipeline import repair
from coral_dagster.pipeline.progress import Progress
from coral_dagster.pipeline.repair import (
    PatchRequest,
    answer_text,
    generate_patches,
    oracle_place,
    repair_tasks,
)

NAMES = ("bitonic_peak_index", "divisors_list", "roman_to_int")  # fixes one edit reaches
GREEDY = CheapKnobs(1.0, 1.0, 0, 1.0, 24, False)
SAMPLING = CheapKnobs(1.0, 1.0, 0, 1.0, 24, True)


@pytest.fixture(scope="module")
def bundled():
    return load_problem_set("bundled")


@pytest.fixture(scope="module")
def generator(tmp_path_factory) -> PatchGenerator:
    base = resolve_base_model("tiny-random", tmp_path_factory.mktemp("models"))
    return PatchGenerator(base, device="cpu")


def test_edit_candidates_hold_the_fix_and_change_only_the_marked_line(bundled):
    tasks = repair_tasks(bundled, NAMES, PatchConfig(format="edit"))
    for name in NAMES:
        task, problem = tasks[name], bundled.problems[name]
        place = oracle_place(bundled, name)
        assert task.place == place and task.candidates
        fixed = answer_text(place.lines)
        assert fixed in {c.answer for c in task.candidates}, name  # the fix is a candidate
        buggy = problem.buggy_source.splitlines()
        for candidate in task.candidates:
            lines = candidate.program.splitlines()
            if place.count == 1:
                assert lines[: place.start - 1] == buggy[: place.start - 1]
                assert lines[place.start :] == buggy[place.start :]
                assert lines[place.start - 1].strip() == candidate.answer
        assert len({c.answer for c in task.candidates}) == len(task.candidates)


def test_the_cap_bounds_the_candidates(bundled):
    tasks = repair_tasks(bundled, NAMES, PatchConfig(format="edit", max_candidates=3))
    assert all(len(t.candidates) <= 3 for t in tasks.values())


def test_without_localisation_candidates_name_their_line(bundled):
    tasks = repair_tasks(bundled, NAMES[:1], PatchConfig(format="edit", localization="none"))
    task = tasks[NAMES[0]]
    assert task.place is None and task.candidates
    buggy = task.buggy_source.splitlines()
    lines_touched = set()
    for c in task.candidates:
        number, code = c.answer.split(": ", 1)
        lines_touched.add(int(number))
        assert c.program.splitlines()[int(number) - 1].strip() == code
        assert buggy[int(number) - 1].strip() != code
    assert len(lines_touched) > 1  # every code line is a place


def test_edit_draws_follow_the_knobs_and_the_seed(bundled, generator):
    patch = PatchConfig(format="edit")
    tasks = repair_tasks(bundled, NAMES[:2], patch)

    def draw(knobs, seed, samples=6):
        requests = [PatchRequest(f"r{n}", n, None, knobs, seed, samples) for n in NAMES[:2]]
        return generate_patches(generator, requests, tasks, patch, batch_size=8)

    greedy = draw(GREEDY, 1)
    for samples in greedy:
        assert len({o.raw_text for o in samples}) == 1  # greedy: the best candidate each time
        assert all(o.program is not None and o.failure == "" for o in samples)
    assert [[o.raw_text for o in s] for s in draw(SAMPLING, 5)] == [
        [o.raw_text for o in s] for s in draw(SAMPLING, 5)
    ]
    assert [[o.raw_text for o in s] for s in draw(SAMPLING, 5, 30)] != [
        [o.raw_text for o in s] for s in draw(SAMPLING, 6, 30)
    ]


def test_distinct_edit_draws_try_each_candidate_once(bundled, generator):
    patch = PatchConfig(format="edit", draws="distinct")
    tasks = repair_tasks(bundled, NAMES[:2], patch)
    for knobs in (GREEDY, SAMPLING):
        requests = [PatchRequest(f"r{n}", n, None, knobs, 3, 8) for n in NAMES[:2]]
        outputs = generate_patches(generator, requests, tasks, patch, 8)
        for name, samples in zip(NAMES[:2], outputs, strict=True):
            answers = [o.raw_text for o in samples]
            assert len(answers) == 8
            assert len(set(answers)) == min(8, len(tasks[name].candidates))


def test_program_scores_rank_the_whole_patched_programs(bundled, generator):
    """With ``candidate_score: program`` greedy draws take the candidate whose whole program the
    model finds most likely (``score_program_candidates``) first, and distinct greedy draws
    follow that ranking; the line scores of the same candidates rank them otherwise."""
    from coral_dagster.model.scoring import score_program_candidates

    patch = PatchConfig(format="edit", candidate_score="program", draws="distinct")
    tasks = repair_tasks(bundled, NAMES, patch)
    differs = 0
    for name in NAMES:
        task = tasks[name]
        scores = [
            s.sum_logprob
            for s in score_program_candidates(generator, [c.program for c in task.candidates])
        ]
        assert repair.candidate_scores(generator, task, patch, None, 8) == pytest.approx(
            scores, abs=1e-4
        )
        order = sorted(range(len(scores)), key=lambda k: (-scores[k], k))
        [samples] = generate_patches(
            generator, [PatchRequest("r", name, None, GREEDY, 0, 4)], tasks, patch, 8
        )
        # distinct greedy: the ranking's order (the nucleus may keep fewer than 4, then cycle)
        drawn = list(dict.fromkeys(o.program for o in samples))
        assert drawn == [task.candidates[k].program for k in order[: len(drawn)]]
        line = repair.candidate_scores(
            generator, task, patch.model_copy(update={"candidate_score": "mean"}), None, 8
        )
        differs += max(range(len(line)), key=lambda k: (line[k], -k)) != order[0]
    assert differs > 0


def test_program_scores_have_their_own_keys():
    """The program encoding's version enters the evaluation context and the adapter key (its
    adapters train on plain programs) only for the program score (other keys stay as they
    were)."""
    from coral_dagster.domain.config import ConfigError, parse_config
    from coral_dagster.model.versions import PROGRAM_SCORE_VERSION
    from coral_dagster.pipeline import inputs as inputs_module

    def context(patch: dict, training: dict | None = None):
        return inputs_module.load_inputs(
            parse_config({"patch": {"format": "edit", **patch}, "training": training or {}})
        ).key_context

    mean, program = context({}), context({"candidate_score": "program"})
    assert mean.evaluation_fingerprint != program.evaluation_fingerprint
    assert (mean.training_config["examples"], program.training_config["examples"]) == (
        "line",
        "program",
    )
    assert program.training_config["program_score"] == PROGRAM_SCORE_VERSION
    assert context({"candidate_score": "sum"}).training_config == mean.training_config
    ranked = context({"candidate_score": "program"}, {"ranking_weight": 1.0})
    assert ranked.training_config["program_score"] == PROGRAM_SCORE_VERSION
    assert "program_score" not in context({}, {"ranking_weight": 1.0}).training_config
    with pytest.raises(ConfigError, match="candidate_score: program ranks edit candidates"):
        parse_config({"patch": {"format": "line", "candidate_score": "program"}})


def test_distinct_draws_need_the_edit_format():
    with pytest.raises(ValueError, match=r"patch\.draws: distinct needs patch\.format: edit"):
        PatchConfig(format="line", draws="distinct")


def test_line_answers_become_programs_or_reasons(bundled, generator):
    patch = PatchConfig(format="line")
    tasks = repair_tasks(bundled, NAMES, patch)
    requests = [PatchRequest(f"r{n}", n, None, SAMPLING, 9, 3) for n in NAMES]
    outputs = generate_patches(generator, requests, tasks, patch, batch_size=8)
    assert [len(s) for s in outputs] == [3, 3, 3]
    for samples in outputs:
        for o in samples:
            assert (o.program is None) == bool(o.failure)  # a reason exactly when no program
            if o.program is not None:
                compile(o.program, "candidate", "exec")


def progress_counts(lines: list[str], label: str) -> list[tuple[int, int]]:
    """(done, total) of each progress line ``<label> done/total samples (...)``."""
    assert all(line.startswith(f"{label} ") for line in lines), lines
    counts = [line[len(label) + 1 :].split()[0].split("/") for line in lines]
    return [(int(done), int(total)) for done, total in counts]


@pytest.mark.parametrize("fmt", ["function", "line", "edit"])
def test_progress_counts_every_sample_once_in_every_format(bundled, generator, fmt, monkeypatch):
    # a line at every update (no throttling), so each count the format reports is seen
    monkeypatch.setattr(repair, "Progress", functools.partial(Progress, every_seconds=0.0))
    patch = PatchConfig(format=fmt)
    tasks = repair_tasks(bundled, NAMES, patch)
    requests = [PatchRequest(f"r{n}", n, None, SAMPLING, 9, 2) for n in NAMES]
    # two requests of one (problem, adapter): edit scores its candidates once for both
    requests.append(PatchRequest("again", NAMES[0], None, GREEDY, 4, 3))
    lines: list[str] = []
    generate_patches(generator, requests, tasks, patch, 4, report=lines.append, label="gen")
    counts = progress_counts(lines, "gen")
    total = 2 * len(NAMES) + 3
    assert {t for _, t in counts} == {total}
    done = [d for d, _ in counts]
    assert done == sorted(set(done)) and done[-1] == total  # rising, never repeated
    assert sum("(100%" in line for line in lines) == 1


def test_a_problem_without_edit_candidates_fails_its_samples_and_still_counts(bundled, generator):
    patch = PatchConfig(format="edit")
    tasks = repair_tasks(bundled, NAMES[:2], patch)
    tasks[NAMES[0]] = dataclasses.replace(tasks[NAMES[0]], candidates=())
    requests = [PatchRequest(f"r{n}", n, None, SAMPLING, 9, 3) for n in NAMES[:2]]
    lines: list[str] = []
    outputs = generate_patches(generator, requests, tasks, patch, 4, report=lines.append)
    assert [(o.program, o.failure) for o in outputs[0]] == [(None, "no edit candidates")] * 3
    assert all(o.program is not None and o.failure == "" for o in outputs[1])
    assert progress_counts(lines, "generated") == [(6, 6)]


def test_nothing_asked_still_ends_with_the_complete_line(bundled, generator):
    lines: list[str] = []
    assert generate_patches(generator, [], {}, PatchConfig(format="edit"), 4, lines.append) == []
    assert lines == ["generated 0/0 samples"]


def test_an_unchanged_task_list_is_reproducible(bundled):
    a = repair_tasks(bundled, NAMES, PatchConfig(format="edit"))
    b = repair_tasks(bundled, NAMES, PatchConfig(format="edit"))
    assert a == b


def test_fixing_candidates_compare_programs_as_trees_and_fix_rank_breaks_ties_by_index():
    correct = "def f(x):\n    return x + 1\n"
    task = repair.RepairTask(
        "f",
        "def f(x):\n    return x - 1\n",
        None,
        tuple(
            repair.Candidate(answer, f"def f(x):\n    return {answer}\n", "arithmetic")
            for answer in ("x * 1", "(x + 1)", "x - 2", "x+1")
        ),
    )
    assert task.fixing_candidates(correct) == [1, 3]  # parentheses and spacing do not matter
    assert repair.fix_rank([0.0, -1.0, 0.0, -1.0], [1, 3]) == 3  # 0 and 2 first, then 1 before 3
    assert repair.fix_rank([-2.0, -1.0, 0.0, -1.0], [3]) == 3  # tied with 1, later index
    assert repair.fix_rank([-2.0, 5.0, 0.0, -1.0], [1, 3]) == 1
