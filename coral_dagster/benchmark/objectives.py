"""The five objective scores of one candidate on one problem, each in [0, 1] (higher is better).

    bugfix   = passed / total
    syntax   = 1 if the program parses and defines the expected function at top level, else 0
    style    = 1 / (1 + issues_per_10_lines),  issues_per_10_lines = 10 * ruff_issues / lines
               (ruff E, W, F rules; lines = non-blank lines, at least 1)
    security = 1 / (1 + weighted / 3),  weighted = sum of bandit findings' severity weights
               (LOW 1, MEDIUM 3, HIGH 9)
    runtime  = min(1, T_correct / T_candidate) over the tests the candidate passes, where
               T = sum_i max(t_i, RUNTIME_FLOOR_SECONDS) of per-test CPU seconds of the
               sandbox's whole process tree (forked children included), read by the host from
               the launch's cgroup (``cpu_accounting``), for the candidate and, the same way,
               for the correct program; 0 if no test passes. The first test of a launch also
               carries the module-level code of the program. CPU time ignores other processes'
               load; the 2 ms floor keeps timer noise out of the score, so tests faster than
               that count as equal and the score stays reproducible.

A missing program, or one that does not parse, scores 0 on all five.
"""

from __future__ import annotations

from collections.abc import Sequence

from coral_dagster.domain.config import OBJECTIVES

SEVERITY_WEIGHTS: dict[str, int] = {"LOW": 1, "MEDIUM": 3, "HIGH": 9}
RUNTIME_FLOOR_SECONDS = 2e-3


def zero_objectives() -> dict[str, float]:
    return {o: 0.0 for o in OBJECTIVES}


def bugfix_score(passed: int, total: int) -> float:
    if total <= 0:
        raise ValueError(f"bugfix score needs at least one test, got total={total}")
    return passed / total


def code_lines(program: str) -> int:
    """Non-blank lines of ``program`` (at least 1): the denominator of the style score."""
    return max(1, sum(1 for line in program.splitlines() if line.strip()))


def style_score(issues: int, lines: int) -> float:
    return 1.0 / (1.0 + 10.0 * issues / max(1, lines))


def security_weight(severities: Sequence[str]) -> int:
    """Sum of ``SEVERITY_WEIGHTS`` over bandit severities (unknown ones raise ``KeyError``)."""
    return sum(SEVERITY_WEIGHTS[s.upper()] for s in severities)


def security_score(weighted: float) -> float:
    return 1.0 / (1.0 + weighted / 3.0)


def runtime_score(candidate_seconds: Sequence[float], correct_seconds: Sequence[float]) -> float:
    """``min(1, T_correct / T_candidate)`` over paired per-test seconds of the passing tests."""
    if len(candidate_seconds) != len(correct_seconds):
        raise ValueError("runtime score needs one correct-program time per passing test")
    if not candidate_seconds:
        return 0.0
    t_candidate = sum(max(t, RUNTIME_FLOOR_SECONDS) for t in candidate_seconds)
    t_correct = sum(max(t, RUNTIME_FLOOR_SECONDS) for t in correct_seconds)
    return min(1.0, t_correct / t_candidate)
