"""``coral evaluate``: the JSON contract, --all, and exit codes for bad input."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from coral_dagster.cli import main
from coral_dagster.domain.config import OBJECTIVES


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_single_program_prints_one_json_object(quirks_root: Path, tmp_path: Path) -> None:
    program = tmp_path / "hanoi.py"
    program.write_text("def hanoi(height, start=1, end=3):\n    return []\n")
    code, output = _invoke(
        "evaluate", "--dataset", str(quirks_root), "--problem", "hanoi",
        "--program", str(program), "--json",
    )  # fmt: skip
    assert code == 0, output
    lines = output.strip().splitlines()
    assert len(lines) == 1
    data = json.loads(lines[0])
    assert data["problem"] == "hanoi" and data["passed"] == 1 and data["total"] == 3
    assert [t["verdict"] for t in data["tests"]] == ["fail", "fail", "pass"]
    assert all({"index", "verdict", "seconds"} <= set(t) for t in data["tests"])
    assert set(OBJECTIVES) <= set(data)
    assert data["bugfix"] == 1 / 3


def test_hostile_program_still_exits_zero(quirks_root: Path, tmp_path: Path) -> None:
    program = tmp_path / "bad.py"
    program.write_text("import os\nos._exit(9)\n")
    code, output = _invoke(
        "evaluate", "--dataset", str(quirks_root), "--problem", "sqrt", "--program",
        str(program), "--json", "--backend", "bwrap",
    )  # fmt: skip
    assert code == 0, output
    assert json.loads(output)["bugfix"] == 0.0


def test_all_prints_one_line_per_problem(quirks_root: Path) -> None:
    code, output = _invoke(
        "evaluate", "--dataset", str(quirks_root), "--all", "--which", "buggy", "--json"
    )
    assert code == 0, output
    rows = [json.loads(line) for line in output.strip().splitlines()]
    assert [r["problem"] for r in rows] == ["bitcount", "flatten", "hanoi", "reachable", "sqrt"]
    assert all(r["passed"] < r["total"] for r in rows)
    code, output = _invoke("evaluate", "--dataset", str(quirks_root), "--all")
    assert code == 0 and len(output.strip().splitlines()) == 5


def test_bad_input_exits_non_zero_with_a_message(quirks_root: Path, tmp_path: Path) -> None:
    program = tmp_path / "p.py"
    program.write_text("def sqrt(x, e):\n    return x\n")
    code, output = _invoke(
        "evaluate", "--dataset", str(quirks_root), "--problem", "nope", "--program", str(program)
    )
    assert code != 0 and "unknown problem 'nope'" in output
    code, output = _invoke(
        "evaluate",
        "--dataset",
        str(quirks_root),
        "--problem",
        "sqrt",
        "--program",
        str(tmp_path / "missing.py"),
    )
    assert code != 0 and "missing.py does not exist" in output
    code, output = _invoke("evaluate", "--dataset", str(tmp_path), "--all")
    assert code != 0 and "no python_programs/ directory" in output
    code, output = _invoke("evaluate", "--dataset", str(quirks_root))
    assert code != 0 and "--all" in output
