"""Evaluating candidate programs: sandboxed tests, per-test verdicts and the objective scores.

``Evaluator(problem_set, sandbox_config)`` builds the sandbox at start-up (``SandboxUnavailable``
if the configured backend cannot run: no silent downgrade). ``evaluate_many`` then, for a batch
of ``(problem name, program or None)``:

1. parses each program (``syntax``; a program that is None or does not compile is not run and
   scores 0 on every objective, its tests recorded as ``error``: ``NoProgram``/``SyntaxError``);
2. lints all parseable programs with ONE ruff and ONE bandit process (``quality``), in a side
   thread while the tests run (results cached per program text);
3. runs each distinct (problem, program) pair's tests in the sandbox (``execution``) on
   ``SandboxConfig.workers`` threads;
4. runs each problem's correct program the same way once (cached): the *reference*, whose
   per-test CPU seconds are the ``runtime`` baseline and whose pytest observations anchor the
   pytest verdicts; when the batch contains the correct program itself, that run is the
   reference.

Every verdict is decided here, on the host, from plain values: a JSON case's result is compared
with the expected value (which never enters the sandbox); a pytest-style test's observations
are judged by ``observations.judge`` against the host-side literals and the reference's
observations. Nothing the sandbox says about passing or timing is believed.

Verdicts: ``pass``, ``fail``, ``error`` (with the exception type) and ``timeout``. A pytest
test that the correct program itself does not pass is an ``error`` (``ReferenceFailed``) for
every candidate. Scores are deterministic except the measured seconds and ``runtime``, which is
built from the host-measured CPU seconds of the sandbox's whole process tree with a 2 ms floor
per test, so it is exactly 1 unless tests are slow enough to measure (see ``objectives``).
"""

from __future__ import annotations

import ast
import json
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from coral_dagster.benchmark.comparison import results_match
from coral_dagster.benchmark.execution import CaseOutcome, Execution, run_cases
from coral_dagster.benchmark.objectives import (
    bugfix_score,
    code_lines,
    runtime_score,
    security_score,
    style_score,
    zero_objectives,
)
from coral_dagster.benchmark.observations import ObservationError, judge, parse
from coral_dagster.benchmark.problems import Problem, ProblemSet
from coral_dagster.benchmark.quality import bandit_weights, ruff_issue_counts
from coral_dagster.benchmark.sandbox import Sandbox, make_sandbox
from coral_dagster.domain.config import OBJECTIVES, SandboxConfig

VERDICTS: tuple[str, ...] = ("pass", "fail", "error", "timeout")
MAX_REPR_CHARS = 200


@dataclass
class TestVerdict:
    """One test case's verdict; ``error_type`` is the exception type name for ``error``.

    ``seconds`` is wall time and ``cpu_seconds`` the CPU time of the sandbox's whole process
    tree for the case, both measured by the host; ``cpu_clock`` names how (``cgroup2`` or
    ``cgroup1``; empty when nothing ran).
    """

    __test__ = False  # not a pytest test class

    index: int
    verdict: str
    seconds: float
    error_type: str | None = None
    detail: str = ""
    cpu_seconds: float = 0.0
    cpu_clock: str = ""

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "verdict": self.verdict,
            "seconds": self.seconds,
            "error_type": self.error_type,
            "detail": self.detail,
            "cpu_seconds": self.cpu_seconds,
            "cpu_clock": self.cpu_clock,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TestVerdict:
        return cls(
            index=int(data["index"]),
            verdict=data["verdict"],
            seconds=float(data["seconds"]),
            error_type=data.get("error_type"),
            detail=data.get("detail", ""),
            cpu_seconds=float(data.get("cpu_seconds", 0.0)),
            cpu_clock=str(data.get("cpu_clock", "")),
        )


@dataclass
class CandidateResult:
    """Verdicts and the five objective scores of one program on one problem."""

    problem: str
    tests: list[TestVerdict]
    passed: int
    total: int
    objectives: dict[str, float]
    no_program: bool = False
    output: str = field(default="", repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem": self.problem,
            "tests": [t.to_dict() for t in self.tests],
            "passed": self.passed,
            "total": self.total,
            "objectives": {o: float(self.objectives[o]) for o in OBJECTIVES},
            "no_program": self.no_program,
            "output": self.output,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CandidateResult:
        return cls(
            problem=data["problem"],
            tests=[TestVerdict.from_dict(t) for t in data["tests"]],
            passed=int(data["passed"]),
            total=int(data["total"]),
            objectives={o: float(data["objectives"][o]) for o in OBJECTIVES},
            no_program=bool(data.get("no_program", False)),
            output=data.get("output", ""),
        )


@dataclass(frozen=True)
class _Parsed:
    compiles: bool
    defines_function: bool
    error: str = ""


def parse_program(program: str, name: str) -> _Parsed:
    """Does ``program`` compile, and does it define ``def name`` at top level? (Nothing runs.)"""
    try:
        tree = ast.parse(program, filename=f"{name}.py")
        compile(tree, f"{name}.py", "exec")
    except SyntaxError as err:
        return _Parsed(False, False, f"line {err.lineno}: {err.msg}")
    except ValueError as err:  # e.g. NUL bytes in the source
        return _Parsed(False, False, str(err))
    defines = any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body)
    return _Parsed(True, defines)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_REPR_CHARS else text[: MAX_REPR_CHARS - 3] + "..."


@dataclass(frozen=True)
class _Reference:
    """The correct program's run of a problem: per-test CPU seconds (the runtime baseline) and,
    for pytest-style tests, its decoded observations or why it does not pass the test itself."""

    cpu_seconds: tuple[float, ...]
    observations: tuple[list | None, ...]
    failures: tuple[str | None, ...]
    stable: bool


def _reference(problem: Problem, execution: Execution) -> _Reference:
    cpu = tuple(o.cpu_seconds for o in execution.outcomes)
    n = len(execution.outcomes)
    if problem.json_cases is not None:
        return _Reference(cpu, (None,) * n, (None,) * n, True)
    tests = problem.rewritten_tests()
    observations: list[list | None] = []
    failures: list[str | None] = []
    for outcome, test_id in zip(execution.outcomes, problem.pytest_test_ids, strict=True):
        records, failure = None, None
        if outcome.status != "ok":
            failure = f"{outcome.status} {outcome.error_type or ''}: {outcome.detail}".strip()
        else:
            try:
                records = parse(outcome.observations)
            except ObservationError as err:
                failure = f"unreadable observations: {err}"
            else:
                verdict = judge(tests, test_id, records, None)
                if not verdict.passed:
                    records, failure = None, verdict.detail
        observations.append(records)
        failures.append(failure)
    stable = not any(
        o.status == "timeout" or o.error_type in ("ProcessDied", "ProtocolViolation")
        for o in execution.outcomes
    )
    return _Reference(cpu, tuple(observations), tuple(failures), stable)


def _verdict(
    problem: Problem, outcome: CaseOutcome, reference: _Reference, clock: str
) -> TestVerdict:
    verdict = _judge(problem, outcome, reference)
    verdict.cpu_seconds = outcome.cpu_seconds
    verdict.cpu_clock = clock
    return verdict


def _judge(problem: Problem, outcome: CaseOutcome, reference: _Reference) -> TestVerdict:
    i = outcome.index
    if outcome.status == "timeout":
        return TestVerdict(i, "timeout", outcome.seconds, None, outcome.detail)
    if outcome.status in ("fail", "error"):
        return TestVerdict(i, outcome.status, outcome.seconds, outcome.error_type, outcome.detail)
    if problem.json_cases is None:
        return _judge_pytest(problem, outcome, reference)
    args, expected = problem.json_cases[i]
    if outcome.result is None:
        return TestVerdict(i, "error", outcome.seconds, "ProtocolViolation", "no result reported")
    try:
        actual = json.loads(outcome.result)
    except (ValueError, RecursionError):
        return TestVerdict(i, "error", outcome.seconds, "ProtocolViolation", "unreadable result")
    if results_match(problem.program, args, expected, actual):
        return TestVerdict(i, "pass", outcome.seconds)
    detail = f"expected {_short(expected)}, got {_short(actual)}"
    return TestVerdict(i, "fail", outcome.seconds, None, detail)


def _judge_pytest(problem: Problem, outcome: CaseOutcome, reference: _Reference) -> TestVerdict:
    """A pytest-style test passes when its observations pass ``observations.judge``."""
    i = outcome.index
    failure = reference.failures[i]
    if failure is not None:
        detail = f"the correct program does not pass this test: {failure}"
        return TestVerdict(i, "error", outcome.seconds, "ReferenceFailed", detail[:1000])
    try:
        records = parse(outcome.observations)
    except ObservationError as err:
        return TestVerdict(i, "error", outcome.seconds, "ProtocolViolation", str(err))
    test_id = problem.pytest_test_ids[i]
    verdict = judge(problem.rewritten_tests(), test_id, records, reference.observations[i])
    if verdict.passed:
        return TestVerdict(i, "pass", outcome.seconds)
    return TestVerdict(i, "fail", outcome.seconds, None, verdict.detail[:1000])


class Evaluator:
    """Runs candidate programs' tests in the configured sandbox and scores them."""

    def __init__(self, problem_set: ProblemSet, sandbox: SandboxConfig):
        self.problem_set = problem_set
        self.config = sandbox
        self.sandbox: Sandbox = make_sandbox(sandbox)
        self._lock = threading.Lock()
        self._references: dict[str, _Reference] = {}
        self._quality: dict[str, tuple[float, float]] = {}

    # -- public API ----------------------------------------------------------------------------
    def evaluate(self, problem_name: str, program: str | None) -> CandidateResult:
        return self.evaluate_many([(problem_name, program)])[0]

    def evaluate_many(self, items: Sequence[tuple[str, str | None]]) -> list[CandidateResult]:
        """Evaluate each ``(problem, program)``; results in input order."""
        items = [(name, program) for name, program in items]
        for k, (name, program) in enumerate(items):
            if name not in self.problem_set.problems:
                raise KeyError(
                    f"item {k}: unknown problem {name!r} (dataset {self.problem_set.root} has "
                    f"{len(self.problem_set.problems)} problems)"
                )
            if program is not None and not isinstance(program, str):
                raise TypeError(f"item {k} ({name}): program must be str or None")
        problems = self.problem_set.problems
        parsed = {
            (n, p): parse_program(p, problems[n].program)
            for n, p in dict.fromkeys(items)
            if p is not None
        }
        runnable = [key for key, info in parsed.items() if info.compiles]
        with self._lock:
            to_lint = list(dict.fromkeys(p for _, p in runnable if p not in self._quality))
        with ThreadPoolExecutor(max_workers=1) as lint_pool:
            lint: Future | None = lint_pool.submit(self._lint, to_lint) if to_lint else None
            executions, baseline_runs = self._execute(runnable)
            if lint is not None:
                lint.result()
        references = {
            name: self._store_reference(name, execution)
            for name, execution in baseline_runs.items()
        }
        with self._lock:
            references = {**self._references, **references}
        return [
            self._result(n, p, parsed.get((n, p)), executions.get((n, p)), references.get(n))
            for n, p in items
        ]

    def baseline_seconds(self, problem_name: str) -> tuple[float, ...]:
        """Per-test CPU seconds of the correct program (measured once, then cached)."""
        with self._lock:
            if problem_name in self._references:
                return self._references[problem_name].cpu_seconds
        problem = self.problem_set.problems[problem_name]
        execution = run_cases(
            self.sandbox, problem, problem.correct_source, self.problem_set.support_files
        )
        return self._store_reference(problem_name, execution).cpu_seconds

    # -- internals -----------------------------------------------------------------------------
    def _store_reference(self, name: str, execution: Execution) -> _Reference:
        """Cache the reference run, unless a pytest test timed out or died in it (a loaded
        machine must not turn that test into ``ReferenceFailed`` for good): such a run serves
        its batch only and the next batch runs the correct program again."""
        reference = _reference(self.problem_set.problems[name], execution)
        if not reference.stable and self.problem_set.problems[name].kind == "pytest":
            return reference
        with self._lock:
            return self._references.setdefault(name, reference)

    def _lint(self, programs: list[str]) -> None:
        issues = ruff_issue_counts(programs)
        weights = bandit_weights(programs)
        with self._lock:
            for program, n_issues, weight in zip(programs, issues, weights, strict=True):
                self._quality[program] = (
                    style_score(n_issues, code_lines(program)),
                    security_score(weight),
                )

    def _execute(
        self, runnable: list[tuple[str, str]]
    ) -> tuple[dict[tuple[str, str], Execution], dict[str, Execution]]:
        problems, support = self.problem_set.problems, self.problem_set.support_files
        with self._lock:
            known = set(self._references)
        covered = {n for n, p in runnable if p == problems[n].correct_source}
        baseline_needed = sorted({n for n, _ in runnable} - known - covered)
        with ThreadPoolExecutor(max_workers=self.config.workers) as pool:
            runs = {
                key: pool.submit(run_cases, self.sandbox, problems[key[0]], key[1], support)
                for key in runnable
            }
            baselines = {
                n: pool.submit(
                    run_cases, self.sandbox, problems[n], problems[n].correct_source, support
                )
                for n in baseline_needed
            }
            executions = {key: f.result() for key, f in runs.items()}
            baseline_runs = {n: f.result() for n, f in baselines.items()}
        for name in covered - known:
            baseline_runs[name] = executions[(name, problems[name].correct_source)]
        return executions, baseline_runs

    def _result(
        self,
        name: str,
        program: str | None,
        parsed: _Parsed | None,
        execution: Execution | None,
        reference: _Reference | None,
    ) -> CandidateResult:
        problem = self.problem_set.problems[name]
        total = problem.n_tests
        if program is None or parsed is None or not parsed.compiles:
            error_type, detail = (
                ("NoProgram", "no program was given")
                if program is None
                else ("SyntaxError", parsed.error if parsed else "")
            )
            tests = [TestVerdict(i, "error", 0.0, error_type, detail) for i in range(total)]
            return CandidateResult(name, tests, 0, total, zero_objectives(), program is None)
        assert execution is not None and reference is not None
        tests = [_verdict(problem, o, reference, execution.cpu_clock) for o in execution.outcomes]
        passing = [t.index for t in tests if t.verdict == "pass"]
        baseline = reference.cpu_seconds
        with self._lock:
            style, security = self._quality[program]
        objectives = {
            "bugfix": bugfix_score(len(passing), total),
            "syntax": 1.0 if parsed.defines_function else 0.0,
            "style": style,
            "security": security,
            "runtime": runtime_score(
                [tests[i].cpu_seconds for i in passing], [baseline[i] for i in passing]
            ),
        }
        return CandidateResult(
            name, tests, len(passing), total, objectives, False, execution.output
        )
