"""``coral evaluate``: run a program's tests in the sandbox and print its scores.

    coral evaluate [--dataset DIR] --problem NAME --program FILE [--json]
    coral evaluate [--dataset DIR] --all --which correct|buggy [--json]
    options: --backend bwrap|process, --config FILE (sandbox settings and default dataset)

``--json`` prints one JSON object per evaluated program (one line each with ``--all``):
``problem``, ``tests`` (``index``, ``verdict``, ``seconds``, ``cpu_seconds``, ``error_type``,
``detail``),
``passed``, ``total``, the five objectives as top-level keys (``bugfix``, ``syntax``,
``style``, ``security``, ``runtime``) and ``no_program``. Exit status 0 whenever the evaluation
ran, whatever the candidate did; non-zero with a message for a bad dataset, problem name or
program file, or an unavailable sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from coral_dagster.domain.config import OBJECTIVES


def result_json(result: Any) -> dict[str, Any]:
    """The CLI's JSON object for one ``CandidateResult`` (objectives flattened to top level)."""
    data = result.to_dict()
    out: dict[str, Any] = {
        "problem": data["problem"],
        "tests": [
            {
                k: t[k]
                for k in ("index", "verdict", "seconds", "cpu_seconds", "error_type", "detail")
            }
            for t in data["tests"]
        ],
        "passed": data["passed"],
        "total": data["total"],
    }
    out.update({o: data["objectives"][o] for o in OBJECTIVES})
    out["no_program"] = data["no_program"]
    return out


def _summary(result: Any) -> str:
    scores = " ".join(f"{o}={result.objectives[o]:.3f}" for o in OBJECTIVES)
    failing = [f"#{t.index}:{t.verdict}" for t in result.tests if t.verdict != "pass"]
    tail = f"  not passing: {' '.join(failing[:10])}" if failing else ""
    return f"{result.problem:<32} {result.passed:>3}/{result.total:<3} {scores}{tail}"


@click.command("evaluate")
@click.option("--dataset", default=None, help="QuixBugs-layout directory, or 'bundled' (default).")
@click.option("--problem", "problem_name", default=None, help="Problem (function) name.")
@click.option(
    "--program",
    "program_file",
    default=None,
    type=click.Path(dir_okay=False),
    help="Candidate program file to evaluate on --problem.",
)
@click.option("--all", "run_all", is_flag=True, help="Evaluate every problem's program.")
@click.option(
    "--which",
    type=click.Choice(["correct", "buggy"]),
    default="correct",
    show_default=True,
    help="With --all: which version of each program.",
)
@click.option("--backend", type=click.Choice(["bwrap", "process"]), default=None)
@click.option("--config", "config_file", default=None, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one object per line).")
def evaluate(
    dataset: str | None,
    problem_name: str | None,
    program_file: str | None,
    run_all: bool,
    which: str,
    backend: str | None,
    config_file: str | None,
    as_json: bool,
) -> None:
    """Run candidate programs' tests in the sandbox and print verdicts and objective scores."""
    from coral_dagster.benchmark.problems import ProblemLoadError, load_problem_set
    from coral_dagster.benchmark.sandbox import SandboxUnavailable
    from coral_dagster.domain.config import ConfigError, SandboxConfig, load_config

    if run_all == (problem_name is not None or program_file is not None):
        raise click.UsageError("give either --problem NAME --program FILE, or --all")
    if not run_all and (problem_name is None or program_file is None):
        raise click.UsageError("--problem and --program go together")
    sandbox_config, default_dataset = SandboxConfig(), "bundled"
    if config_file is not None:
        try:
            config = load_config(config_file)
        except ConfigError as err:  # one line, like every command's user error
            raise click.ClickException(
                f"invalid config {err.source}: " + "; ".join(err.problems)
            ) from None
        sandbox_config, default_dataset = config.sandbox, config.benchmark.dataset
    if backend is not None:
        sandbox_config = sandbox_config.model_copy(update={"backend": backend})
    try:
        problem_set = load_problem_set(dataset or default_dataset)
    except ProblemLoadError as err:
        raise click.ClickException(f"cannot load dataset: {err}") from None

    if run_all:
        problems = problem_set.problems
        items = [
            (n, p.correct_source if which == "correct" else p.buggy_source)
            for n, p in problems.items()
        ]
    else:
        assert problem_name is not None and program_file is not None
        if problem_name not in problem_set.problems:
            raise click.ClickException(
                f"unknown problem {problem_name!r} in {problem_set.root}; known: "
                f"{', '.join(problem_set.names())}"
            )
        path = Path(program_file)
        if not path.is_file():
            raise click.ClickException(f"program file {program_file} does not exist")
        try:
            program = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise click.ClickException(f"program file {program_file} is not UTF-8: {err}") from None
        items = [(problem_name, program)]

    from coral_dagster.benchmark.evaluator import Evaluator

    try:
        evaluator = Evaluator(problem_set, sandbox_config)
    except SandboxUnavailable as err:
        raise click.ClickException(f"sandbox unavailable: {err}") from None
    for result in evaluator.evaluate_many(items):
        if as_json:
            click.echo(json.dumps(result_json(result), sort_keys=False))
        else:
            click.echo(_summary(result))


def register(group: click.Group) -> None:
    """Attach ``coral evaluate`` to the ``coral`` group."""
    group.add_command(evaluate)
