"""Issue 10, item 8, on a real home: a bad generation, a read-only home, a full disk during the
report. Each is one line on stderr naming the culprit, exit status 1, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_assertions import one_line_error
from platform_helpers import coral


def mount(*args: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("a read-only or full file system for the test needs root (mount)")
    done = subprocess.run(["mount", *args], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount here: {done.stderr.strip()}")


def test_backfill_of_a_generation_that_does_not_exist(finished_home: Path, model_cache: Path):
    home = str(finished_home)
    one_line_error(
        coral(model_cache, "backfill", "--generation", "99", "--home", home),
        "generation 99 does not exist yet (populations: g0000, g0001)",
    )
    line = one_line_error(
        coral(model_cache, "backfill", "--generation", "-5", "--home", home),
        "generation -5 does not exist",
    )
    assert "-4" not in line


def test_a_read_only_home_is_one_line_for_every_command(
    tmp_path: Path, finished_home: Path, model_cache: Path
):
    home = tmp_path / "home"
    shutil.copytree(finished_home, home)
    read_only = tmp_path / "read-only"
    read_only.mkdir()
    mount("--bind", str(home), str(read_only))
    try:
        mount("-o", "remount,bind,ro", str(read_only))
        where = str(read_only)
        for args in (
            ("status", "--home", where),
            ("status", "--home", where, "--json"),
            ("report", "--home", where),
            ("backfill", "--generation", "1", "--home", where),
            ("retry-failed", "--home", where),
            ("evolve", "--config", str(home / "experiment.yaml"), "--home", where),
        ):
            one_line_error(coral(model_cache, *args), f"{where}", "is not writable")
    finally:
        subprocess.run(["umount", "-l", str(read_only)], check=False)


def fill(directory: Path) -> None:
    """Fill the file system of ``directory`` up to the last byte."""
    with (directory / "filler").open("wb", buffering=0) as fh:  # unbuffered: no flush at close
        for block in (65536, 1):
            try:
                while True:
                    fh.write(b"\0" * block)
            except OSError:
                pass


@pytest.mark.parametrize("fmt", ["md", "json", "csv"])
def test_a_full_disk_during_the_report_is_one_line_and_leaves_no_partial_file(
    tmp_path: Path, finished_home: Path, model_cache: Path, fmt: str
):
    disk = tmp_path / "disk"
    disk.mkdir()
    mount("-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk))
    try:
        fill(disk)
        out = disk / f"report.{fmt}"
        args = ("report", "--home", str(finished_home), "--format", fmt, "--out", str(out))
        one_line_error(
            coral(model_cache, *args), f"cannot write {disk}/", "No space left on device"
        )
        assert sorted(p.name for p in disk.iterdir()) == ["filler"]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
