"""Loading QuixBugs-layout datasets: quirks, support modules, fingerprints and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from benchmark_helpers import NODE, QUIRKS, REACHABLE_TESTS, Spec, lines, write_dataset

from coral_dagster.benchmark.problems import (
    BUNDLED_DATASET,
    Problem,
    ProblemLoadError,
    ProblemSet,
    load_problem_set,
)

GRAPH_PROBLEMS = {
    "breadth_first_search",
    "depth_first_search",
    "detect_cycle",
    "minimum_spanning_tree",
    "reverse_linked_list",
    "shortest_path_length",
    "shortest_path_lengths",
    "shortest_paths",
    "topological_ordering",
}


def test_quirks_dataset_loads_with_json_and_pytest_problems(quirks: ProblemSet) -> None:
    assert quirks.names() == ("bitcount", "flatten", "hanoi", "reachable", "sqrt")
    assert dict(quirks.support_files) == {"node": NODE}  # the legacy *_test.py driver is ignored
    reachable = quirks.problems["reachable"]
    assert reachable.kind == "pytest" and reachable.json_cases is None
    assert reachable.pytest_test_ids == (
        "test_direct",
        "test_two_hops",
        "test_cycle_set_by_earlier_state",
        "test_chain[0]",
        "test_chain[1]",
        "test_chain[2]",
        "test_unreachable",
    )
    assert reachable.n_tests == 7
    assert quirks.problems["hanoi"].kind == "json" and quirks.problems["hanoi"].n_tests == 3
    assert quirks.problems["flatten"].buggy_source == QUIRKS["flatten"].buggy
    assert quirks.problems["flatten"].correct_source == QUIRKS["flatten"].correct


def test_one_argument_cases_without_a_list_are_wrapped_and_blank_lines_skipped(
    quirks: ProblemSet,
) -> None:
    cases = quirks.problems["bitcount"].json_cases
    assert cases == (([127], 7), ([128], 1), ([3005], 9), ([1], 1))


def test_fingerprints_follow_content_not_location(tmp_path: Path, quirks: ProblemSet) -> None:
    copy = load_problem_set(write_dataset(tmp_path / "copy", QUIRKS, support={"node": NODE}))
    assert copy.root != quirks.root
    assert copy.fingerprint() == quirks.fingerprint()
    assert all(
        copy.problems[n].fingerprint() == quirks.problems[n].fingerprint() for n in copy.names()
    )

    changed = dict(QUIRKS)
    changed["hanoi"] = Spec(
        QUIRKS["hanoi"].buggy, QUIRKS["hanoi"].correct, lines(([1, 1, 3], [[1, 2]]))
    )
    other = load_problem_set(write_dataset(tmp_path / "other", changed, support={"node": NODE}))
    assert other.problems["hanoi"].fingerprint() != quirks.problems["hanoi"].fingerprint()
    assert other.problems["sqrt"].fingerprint() == quirks.problems["sqrt"].fingerprint()
    assert other.fingerprint() != quirks.fingerprint()

    node_changed = load_problem_set(
        write_dataset(tmp_path / "node", QUIRKS, support={"node": NODE + "\n# changed\n"})
    )
    assert node_changed.fingerprint() != quirks.fingerprint()


def test_subset_keeps_support_and_rejects_unknown_names(quirks: ProblemSet) -> None:
    sub = quirks.subset(["sqrt", "reachable"])
    assert sub.names() == ("reachable", "sqrt")
    assert sub.support_files == quirks.support_files
    with pytest.raises(KeyError, match="nope"):
        quirks.subset(["sqrt", "nope"])


def test_problem_needs_exactly_one_kind_of_tests() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        Problem("f", "def f(): pass", "def f(): pass", None, None)
    direct = Problem("reachable", "", "", None, REACHABLE_TESTS)
    assert direct.n_tests == 7  # test ids derived from the source when not given


def _minimal(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    """Dataset with one JSON problem ``f`` plus ``files`` (relative path -> text)."""
    base = {
        "python_programs/f.py": "def f(x):\n    return x\n",
        "correct_python_programs/f.py": "def f(x):\n    return x + 1\n",
        "json_testcases/f.json": "[[1], 2]\n",
        **(files or {}),
    }
    for relative, text in base.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_missing_correct_program_names_the_file(tmp_path: Path) -> None:
    root = _minimal(tmp_path)
    (root / "correct_python_programs" / "f.py").unlink()
    with pytest.raises(
        ProblemLoadError, match=r"missing correct program .*correct_python_programs/f\.py"
    ):
        load_problem_set(root)


def test_malformed_json_line_names_file_and_line(tmp_path: Path) -> None:
    root = _minimal(tmp_path, {"json_testcases/f.json": "[[1], 2]\n\n[[2], 3\n"})
    with pytest.raises(ProblemLoadError, match=r"json_testcases/f\.json:3: malformed JSON"):
        load_problem_set(root)


def test_json_line_that_is_not_a_pair_names_file_and_line(tmp_path: Path) -> None:
    root = _minimal(tmp_path)
    (root / "json_testcases" / "f.json").write_text("[[1], 2]\n[1, 2, 3]\n")
    with pytest.raises(
        ProblemLoadError, match=r"f\.json:2: expected a JSON list \[args, expected\]"
    ):
        load_problem_set(root)


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_non_finite_numbers_in_json_cases_name_file_and_line(tmp_path: Path, number: str) -> None:
    root = _minimal(tmp_path, {"json_testcases/f.json": f"[[1], 2]\n[[2], [3, {number}]]\n"})
    with pytest.raises(ProblemLoadError, match=rf"f\.json:2: non-finite number {number}"):
        load_problem_set(root)


def test_support_class_with_its_own_equality_is_refused(tmp_path: Path) -> None:
    node = NODE + "\n    def __eq__(self, other):\n        return self.value == other.value\n"
    root = write_dataset(tmp_path, {"reachable": QUIRKS["reachable"]}, support={"node": node})
    with pytest.raises(ProblemLoadError, match=r"node\.py:7: support class Node defines __eq__"):
        load_problem_set(root)


def _graph(tmp_path: Path, tests: str) -> Path:
    spec = Spec("def g(n):\n    return n\n", "def g(n):\n    return n\n", pytest_source=tests)
    return write_dataset(tmp_path, {"g": spec}, support={"node": NODE})


def test_test_file_that_does_not_compile_names_file_and_line(tmp_path: Path) -> None:
    root = _graph(
        tmp_path, "import pytest\nfrom python_programs.g import g\n\ndef test_a(:\n    pass\n"
    )
    with pytest.raises(ProblemLoadError, match=r"python_testcases/test_g\.py:4: does not compile"):
        load_problem_set(root)


def test_test_file_importing_a_missing_module_names_file_and_line(tmp_path: Path) -> None:
    tests = (
        "import pytest\nfrom graphs import Edge\nfrom python_programs.g import g\n\n"
        "def test_a():\n    assert g(1)\n"
    )
    with pytest.raises(ProblemLoadError, match=r"test_g\.py:2: imports 'graphs'"):
        load_problem_set(_graph(tmp_path, tests))


def test_test_file_that_never_imports_the_candidate_is_rejected(tmp_path: Path) -> None:
    tests = (
        "import pytest\nfrom correct_python_programs.g import g\n\ndef test_a():\n    assert g(1)\n"
    )
    with pytest.raises(ProblemLoadError, match=r"does not import g from python_programs\.g"):
        load_problem_set(_graph(tmp_path, tests))


def test_asserts_the_host_cannot_judge_are_refused_at_load(tmp_path: Path) -> None:
    head = "import pytest\nfrom python_programs.g import g\n\n"
    module_level = head + "assert g(1)\n\ndef test_a():\n    assert g(1)\n"
    with pytest.raises(ProblemLoadError, match=r"test_g\.py:4: assert outside a function"):
        load_problem_set(_graph(tmp_path / "a", module_level))
    raises_match = (
        head + "def test_a():\n    with pytest.raises(ValueError, match='x'):\n        g(1)\n"
    )
    with pytest.raises(ProblemLoadError, match=r"test_g\.py:5: only `with pytest.raises\(E\):`"):
        load_problem_set(_graph(tmp_path / "b", raises_match))
    computed_approx = head + "def test_a():\n    x = 2.0\n    assert g(1) == pytest.approx(x)\n"
    with pytest.raises(ProblemLoadError, match=r"test_g\.py:6: approx needs literal arguments"):
        load_problem_set(_graph(tmp_path / "c", computed_approx))


def test_fixtures_and_computed_parametrize_are_rejected(tmp_path: Path) -> None:
    head = "import pytest\nfrom python_programs.g import g\n\n"
    with pytest.raises(ProblemLoadError, match=r"test_g\.py:4: test_a takes arguments; fixtures"):
        load_problem_set(_graph(tmp_path / "a", head + "def test_a(tmp_path):\n    assert g(1)\n"))
    computed = (
        head
        + "CASES = [1, 2]\n@pytest.mark.parametrize('n', CASES)\ndef test_a(n):\n    assert g(n)\n"
    )
    with pytest.raises(ProblemLoadError, match="parametrize values must be a literal list"):
        load_problem_set(_graph(tmp_path / "b", computed))


def test_program_without_tests_is_an_error_but_a_support_module_is_not(tmp_path: Path) -> None:
    root = _minimal(tmp_path, {"python_programs/helper.py": "class Helper:\n    pass\n"})
    assert load_problem_set(root).support_files["helper"].startswith("class Helper")
    (root / "python_programs" / "h.py").write_text("def h(x):\n    return x\n")
    with pytest.raises(ProblemLoadError, match=r"python_programs/h\.py: no test cases"):
        load_problem_set(root)


def test_orphan_test_file_and_missing_layout_are_errors(tmp_path: Path) -> None:
    root = _minimal(tmp_path / "orphan")
    (root / "json_testcases" / "ghost.json").write_text("[[1], 1]\n")
    with pytest.raises(
        ProblemLoadError, match=r"ghost\.json: no matching .*python_programs/ghost\.py"
    ):
        load_problem_set(root)
    with pytest.raises(ProblemLoadError, match="no python_programs/ directory"):
        load_problem_set(tmp_path / "empty")


def test_bundled_path_is_the_package_data_directory() -> None:
    assert BUNDLED_DATASET.parts[-3:] == ("benchmark", "data", "coral_bugs")


@pytest.mark.skipif(
    not os.environ.get("QUIXBUGS_DIR"), reason="set QUIXBUGS_DIR to a QuixBugs checkout to run"
)
def test_real_quixbugs_checkout_loads_all_40_programs() -> None:
    problems = load_problem_set(os.environ["QUIXBUGS_DIR"])
    assert len(problems.problems) == 40
    assert set(problems.names()) >= GRAPH_PROBLEMS
    for name in GRAPH_PROBLEMS:
        assert problems.problems[name].kind == "pytest", name
    assert "node" in problems.support_files


# QuixBugs' own pytest harness on the buggy graph programs (pytest 9, this checkout): pass or not.
UPSTREAM_BUGGY_GRAPH_VERDICTS = {
    "breadth_first_search": [True, True, False, True, True],
    "depth_first_search": [True, True, True, True, False],
    "detect_cycle": [True, True, True, False, True, True],
    "minimum_spanning_tree": [False, False, False],
    "reverse_linked_list": [False, False, True],
    "shortest_path_length": [False, False, True, True],
    "shortest_path_lengths": [False, False, False, False],
    "shortest_paths": [False, False, False],
    "topological_ordering": [False, False, False],
}
SLOW_CORRECT_CASES = {("knapsack", 9), ("levenshtein", 3)}  # skipped by QuixBugs' own tests


@pytest.mark.skipif(
    not os.environ.get("QUIXBUGS_DIR"), reason="set QUIXBUGS_DIR to a QuixBugs checkout to run"
)
def test_real_quixbugs_verdicts_are_upstream_ones() -> None:
    """Host-judged verdicts on a real checkout: every correct program passes (but the two slow
    cases QuixBugs itself skips), every buggy one fails a test, and the buggy graph programs get
    exactly the verdicts of QuixBugs' own pytest harness."""
    from benchmark_helpers import fast_config

    from coral_dagster.benchmark.evaluator import Evaluator

    problems = load_problem_set(os.environ["QUIXBUGS_DIR"])
    patient = Evaluator(problems, fast_config(timeout_seconds=5.0, cpu_seconds=5, uid_base=68000))
    correct = patient.evaluate_many([(n, p.correct_source) for n, p in problems.problems.items()])
    not_passing = {(r.problem, t.index) for r in correct for t in r.tests if t.verdict != "pass"}
    assert not_passing == SLOW_CORRECT_CASES
    evaluator = Evaluator(problems, fast_config(timeout_seconds=2.0, uid_base=68000))
    buggy = evaluator.evaluate_many([(n, p.buggy_source) for n, p in problems.problems.items()])
    assert [r.problem for r in buggy if r.passed == r.total] == []
    graph = {r.problem: [t.verdict == "pass" for t in r.tests] for r in buggy}
    graph = {name: graph[name] for name in GRAPH_PROBLEMS}
    assert graph == UPSTREAM_BUGGY_GRAPH_VERDICTS
