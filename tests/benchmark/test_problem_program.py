"""A problem made from another's program (an injected validation bug) keeps its own key and
runs as the program it was made from: module, function and tests."""

from __future__ import annotations

from dataclasses import replace

import pytest
from benchmark_helpers import fast_config

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.problems import ProblemSet, load_problem_set


@pytest.mark.parametrize("name", ["gray_code", "cycle_start_value"])  # JSON, pytest-style
def test_a_problem_runs_as_its_program(name: str):
    bundled = load_problem_set("bundled")
    origin = bundled.problems[name]
    copy = replace(origin, name=f"{name}~0", program=name)
    assert copy.program == name and origin.program == name  # the default is the name
    assert copy.fingerprint() != origin.fingerprint()
    problems = ProblemSet(bundled.root, {name: origin, copy.name: copy}, bundled.support_files)
    evaluator = Evaluator(problems, fast_config())
    results = evaluator.evaluate_many(
        [
            (name, origin.correct_source),
            (copy.name, origin.correct_source),
            (name, origin.buggy_source),
            (copy.name, origin.buggy_source),
        ]
    )
    fixed, fixed_copy, buggy, buggy_copy = results
    assert fixed.passed == fixed.total == fixed_copy.passed == fixed_copy.total
    assert [t.verdict for t in buggy.tests] == [t.verdict for t in buggy_copy.tests]
    assert buggy_copy.passed < buggy_copy.total
    for objective in ("syntax", "style", "security"):  # parsed as the program's module
        assert fixed_copy.objectives[objective] == fixed.objectives[objective]
