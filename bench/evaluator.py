"""Tests per second: the sandboxed evaluator vs pytest, measured side by side in one run.

Runs every correct program of a dataset (default: the bundled one) through its tests four ways
and prints tests/second and the ratios to the evaluator (default config, 2 workers):

  evaluator w=2    Evaluator(SandboxConfig()).evaluate_many(all correct programs): bwrap sandbox,
                   one harness process per program, plus ruff + bandit and the runtime baseline
  evaluator w=1    the same on one worker thread
  pytest once      ONE `python -m pytest` process over all programs' tests (no sandbox)
  pytest/program   one `python -m pytest` process per program, one after the other (no sandbox)

pytest runs with PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 (a bare pytest starts fastest).

The pytest runs use a temporary QuixBugs-style tree: the JSON cases become parametrized tests
(same comparison rules as the evaluator), pytest-style test files are used as they are.

    python bench/evaluator.py [--dataset DIR] [--repeats N] [--against CHECKOUT]

Each figure is the best (shortest) of N repeats.

``--against CHECKOUT`` (another checkout of this repository, e.g. made with
``git worktree add /tmp/base <commit>`` or ``git archive <commit> | tar -x -C /tmp/base``)
also times the two evaluators side by side: this checkout's and CHECKOUT's
``Evaluator(...).evaluate_many`` (2 workers, construction included) run alternately, each in a
fresh ``python`` process with ``PYTHONPATH`` set to its checkout, on the same dataset, twice
per process (cold: the first evaluator of the process; warm: a second one); the best of N for
each and their ratio are printed. On a shared, noisy machine this pairing is the fair
comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.problems import ProblemSet, load_problem_set
from coral_dagster.domain.config import SandboxConfig

CONFTEST = """import pytest


def pytest_configure(config):
    pytest.use_correct = False
    pytest.run_slow = False
"""

JSON_TEST = """import json
import types

import pytest

from python_programs.{name} import {name}

CASES = json.loads({cases!r})
APPROXIMATE = {approximate!r}


def plain(value):
    if isinstance(value, types.GeneratorType):
        value = list(value)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {{k: plain(v) for k, v in value.items()}}
    return value


@pytest.mark.parametrize("args,expected", CASES)
def test_{name}(args, expected):
    result = plain({name}(*args))
    if APPROXIMATE:
        assert result == pytest.approx(expected, abs=args[-1])
    else:
        assert result == expected
"""


def write_pytest_tree(problem_set: ProblemSet, root: Path) -> list[Path]:
    """A pytest-runnable tree of the correct programs; returns one test file per problem."""
    from coral_dagster.benchmark.comparison import APPROXIMATE_BY_LAST_ARGUMENT

    (root / "python_programs").mkdir(parents=True)
    (root / "python_programs" / "__init__.py").write_text("")
    (root / "conftest.py").write_text(CONFTEST)
    for module, source in problem_set.support_files.items():
        (root / f"{module}.py").write_text(source)
    tests = []
    for name, problem in problem_set.problems.items():
        (root / "python_programs" / f"{name}.py").write_text(problem.correct_source)
        test = root / f"test_{name}.py"
        if problem.json_cases is not None:
            cases = json.dumps([[args, expected] for args, expected in problem.json_cases])
            approximate = name in APPROXIMATE_BY_LAST_ARGUMENT
            test.write_text(JSON_TEST.format(name=name, cases=cases, approximate=approximate))
        else:
            assert problem.pytest_source is not None
            test.write_text(problem.pytest_source)
        tests.append(test)
    return tests


def pytest_run(root: Path, files: list[Path]) -> None:
    """Bare pytest (no plugin autoload: the fairest, fastest-starting pytest) on ``files``."""
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *map(str, files)]
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"pytest failed on {files[:3]}...:\n{done.stdout[-3000:]}")


CHILD_RUN = """
import sys, time
from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.problems import load_problem_set
from coral_dagster.domain.config import SandboxConfig

problem_set = load_problem_set(sys.argv[1])
items = [(n, p.correct_source) for n, p in problem_set.problems.items()]
for run in ("cold", "warm"):
    started = time.perf_counter()
    results = Evaluator(problem_set, SandboxConfig(workers=2)).evaluate_many(items)
    elapsed = time.perf_counter() - started
    failing = [r.problem for r in results if r.passed != r.total]
    if failing:
        sys.exit(f"correct programs failed: {failing}")
    print(run, elapsed)
"""


def checkout_run(checkout: Path, dataset: Path) -> dict[str, float]:
    """Seconds of a first (cold: new process) and a second (warm) evaluator run of
    ``checkout``'s code, each with a new ``Evaluator``, in one fresh process."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD_RUN, str(dataset)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"evaluator of {checkout} failed:\n{done.stderr[-3000:]}")
    return {k: float(v) for k, v in (line.split() for line in done.stdout.splitlines())}


def side_by_side(
    checkouts: dict[str, Path], dataset: Path, repeats: int
) -> dict[str, dict[str, float]]:
    """Best of ``repeats`` (cold and warm) per checkout, the runs interleaved (a, b, a, b)."""
    times: dict[str, list[dict[str, float]]] = {name: [] for name in checkouts}
    for _ in range(repeats):
        for name, checkout in checkouts.items():
            times[name].append(checkout_run(checkout, dataset))
    return {
        name: {kind: min(run[kind] for run in runs) for kind in ("cold", "warm")}
        for name, runs in times.items()
    }


def best_of(repeats: int, run: Callable[[], None]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="bundled")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--against", type=Path, default=None, help="another checkout to compare")
    args = parser.parse_args()

    problem_set = load_problem_set(args.dataset)
    items = [(n, p.correct_source) for n, p in problem_set.problems.items()]
    n_tests = sum(p.n_tests for p in problem_set.problems.values())

    def evaluator_run(workers: int) -> Callable[[], None]:
        def run() -> None:
            evaluator = Evaluator(problem_set, SandboxConfig(workers=workers))
            results = evaluator.evaluate_many(items)
            failing = [r.problem for r in results if r.passed != r.total]
            if failing:
                raise RuntimeError(f"correct programs failed in the evaluator: {failing}")

        return run

    with tempfile.TemporaryDirectory(prefix="coral-bench-") as tmp:
        root = Path(tmp)
        files = write_pytest_tree(problem_set, root)
        timings = {
            "evaluator w=2": best_of(args.repeats, evaluator_run(2)),
            "evaluator w=1": best_of(args.repeats, evaluator_run(1)),
            "pytest once": best_of(args.repeats, lambda: pytest_run(root, files)),
            "pytest/program": best_of(
                args.repeats, lambda: [pytest_run(root, [f]) for f in files] and None
            ),
        }

    print(f"dataset {problem_set.root}: {len(items)} correct programs, {n_tests} tests")
    reference = timings["evaluator w=2"]
    print(f"{'method':<16} {'seconds':>8} {'tests/s':>9} {'evaluator w=2 is x faster':>26}")
    for method, seconds in timings.items():
        print(f"{method:<16} {seconds:8.2f} {n_tests / seconds:9.1f} {seconds / reference:26.2f}")
    if args.against is not None:
        here = Path(__file__).resolve().parent.parent
        pair = side_by_side(
            {"this checkout": here, str(args.against): args.against},
            problem_set.root,
            max(args.repeats, 1),
        )
        print(f"\nside by side, best of {max(args.repeats, 1)} alternating fresh processes:")
        base = pair[str(args.against)]
        for name, seconds in pair.items():
            for kind in ("cold", "warm"):
                print(
                    f"{name:<24} {kind:<5} {seconds[kind]:7.3f} s "
                    f"{n_tests / seconds[kind]:7.1f} tests/s "
                    f"{seconds[kind] / base[kind]:6.3f} x the time of {args.against}"
                )


if __name__ == "__main__":
    main()
