"""Static quality of candidate programs: ruff (style) and bandit (security), batched.

Each function writes all programs into one temporary directory and runs ONE linter process
over them (process start-up, ~0.1 s for ruff and ~0.3 s for bandit, dominates per-file work).
The linters only parse the code; nothing is executed. ``# noqa`` / ``# nosec`` comments are
ignored, so a candidate cannot silence its own findings; ruff runs ``--isolated`` so no project
configuration changes the rules.

    ruff:   python -m ruff check --isolated --no-cache --ignore-noqa --select E,W,F
                   --line-length 100 --output-format json --exit-zero FILES
    bandit: python -m bandit -f json -q --ignore-nosec FILES   (exit 1 just means findings)
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from coral_dagster.benchmark.objectives import security_weight

LINT_TIMEOUT_SECONDS = 300.0
STYLE_RULES = "E,W,F"
STYLE_LINE_LENGTH = 100  # the project's own limit (pyproject.toml), not ruff's default 88


class LinterError(RuntimeError):
    """A linter could not run or produced output that does not parse."""


def _write(directory: Path, programs: Sequence[str]) -> list[Path]:
    paths = []
    for i, program in enumerate(programs):
        path = directory / f"candidate_{i:05d}.py"
        path.write_text(program, encoding="utf-8")
        paths.append(path)
    return paths


def _run(tool: str, argv: list[str], cwd: Path, ok_codes: tuple[int, ...]) -> str:
    try:
        done = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=LINT_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise LinterError(f"{tool} did not finish within {LINT_TIMEOUT_SECONDS:g} s") from None
    if done.returncode not in ok_codes:
        raise LinterError(
            f"{tool} failed (exit status {done.returncode}): {done.stderr.strip()[:2000]}"
        )
    return done.stdout


def _index(paths: list[Path], filename: str, tool: str) -> int:
    resolved = Path(filename).resolve()
    for i, path in enumerate(paths):
        if path == resolved:
            return i
    raise LinterError(f"{tool} reported an unknown file {filename!r}")


def ruff_issue_counts(programs: Sequence[str]) -> list[int]:
    """Number of ruff E/W/F findings in each program (one ruff process for all)."""
    if not programs:
        return []
    with tempfile.TemporaryDirectory(prefix="coral-ruff-") as tmp:
        directory = Path(tmp).resolve()
        paths = _write(directory, programs)
        argv = [
            sys.executable, "-m", "ruff", "check", "--isolated", "--no-cache", "--ignore-noqa",
            "--select", STYLE_RULES, "--line-length", str(STYLE_LINE_LENGTH),
            "--output-format", "json", "--exit-zero",
            *map(str, paths),
        ]  # fmt: skip
        stdout = _run("ruff", argv, directory, ok_codes=(0,))
        try:
            findings = json.loads(stdout)
        except json.JSONDecodeError as err:
            raise LinterError(f"ruff printed no JSON ({err}): {stdout[:500]!r}") from None
        counts = [0] * len(programs)
        for finding in findings:
            counts[_index(paths, finding["filename"], "ruff")] += 1
    return counts


def bandit_weights(programs: Sequence[str]) -> list[int]:
    """Severity-weighted bandit findings (LOW 1, MEDIUM 3, HIGH 9) per program (one process)."""
    if not programs:
        return []
    with tempfile.TemporaryDirectory(prefix="coral-bandit-") as tmp:
        directory = Path(tmp).resolve()
        paths = _write(directory, programs)
        argv = [
            sys.executable,
            "-m",
            "bandit",
            "-f",
            "json",
            "-q",
            "--ignore-nosec",
            *map(str, paths),
        ]
        stdout = _run("bandit", argv, directory, ok_codes=(0, 1))
        try:
            report = json.loads(stdout)
        except json.JSONDecodeError as err:
            raise LinterError(f"bandit printed no JSON ({err}): {stdout[:500]!r}") from None
        if report.get("errors"):
            raise LinterError(f"bandit could not scan: {report['errors'][:3]}")
        severities: list[list[str]] = [[] for _ in programs]
        for finding in report.get("results", []):
            severities[_index(paths, finding["filename"], "bandit")].append(
                finding["issue_severity"]
            )
    return [security_weight(s) for s in severities]
