"""What every test of a user's mistake asserts about the `coral` command's output (imported by
name: ``pythonpath = ["tests"]`` in pyproject.toml puts this folder on sys.path)."""

from __future__ import annotations

import subprocess


def one_line_error(result: subprocess.CompletedProcess, *needles: str, code: int = 1) -> str:
    """The one stderr line of a command that failed with exit status ``code``, with no
    traceback; the line contains every needle."""
    assert result.returncode == code, (result.returncode, result.stdout[-2000:], result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
