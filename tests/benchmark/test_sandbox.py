"""Sandbox backends: what a sandboxed process sees, explicit backend choice, start-up failures."""

from __future__ import annotations

import ast
import os
import shutil
from pathlib import Path

import pytest
from benchmark_helpers import fast_config

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.benchmark.problems import ProblemSet
from coral_dagster.benchmark.sandbox import (
    PYTHON_FLAGS,
    UID_POOL,
    BwrapSandbox,
    ProcessSandbox,
    SandboxUnavailable,
    make_sandbox,
)

FACTS = """
import json, os, socket
facts = {"uid": os.getuid(), "gid": os.getgid(), "groups": os.getgroups(),
         "env": sorted(os.environ), "cwd": os.getcwd(), "root": sorted(os.listdir("/")),
         "pids": sorted(p for p in os.listdir("/proc") if p.isdigit()),
         "interfaces": sorted(name for _, name in socket.if_nameindex())}
for line in open("/proc/self/status"):
    if line.startswith(("CapEff", "CapBnd", "NoNewPrivs")):
        key, value = line.split(":")
        facts[key] = value.strip()
try:
    open("/usr/coral-probe", "w")
    facts["usr_writable"] = True
except OSError:
    facts["usr_writable"] = False
with open("/tmp/scratch", "w") as f:
    facts["tmp_writable"] = f.write("ok") == 2
print(repr(facts))
"""


def _facts(sandbox, tmp_path: Path) -> dict:
    workdir = tmp_path / "work"
    workdir.mkdir()
    workdir.chmod(0o755)
    run = sandbox.run([sandbox.python, *PYTHON_FLAGS, "-c", FACTS], workdir, timeout=30)
    assert run.returncode == 0, run.output
    return ast.literal_eval(run.output.strip().splitlines()[-1])


@pytest.mark.skipif(os.geteuid() != 0, reason="the root path of the bwrap backend")
def test_bwrap_isolates_the_candidate(tmp_path: Path) -> None:
    config = fast_config(uid_base=64000)
    facts = _facts(make_sandbox(config), tmp_path)
    assert 64000 <= facts["uid"] < 64000 + UID_POOL and facts["gid"] == facts["uid"]
    assert facts["groups"] == []
    assert facts["CapEff"] == facts["CapBnd"] == "0000000000000000"
    assert facts["NoNewPrivs"] == "1"
    assert facts["interfaces"] == ["lo"]  # a network namespace of its own
    assert facts["pids"] == ["1", "2"]  # bwrap's init and the program itself
    assert (
        "work" not in facts["root"] and "etc" not in facts["root"] and "home" not in facts["root"]
    )
    assert set(facts["env"]) <= {
        "PATH", "HOME", "LANG", "PWD", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE",
        "PYTHONIOENCODING",
    }  # fmt: skip
    assert facts["cwd"] == "/tmp" and facts["tmp_writable"] and not facts["usr_writable"]


def test_backend_is_bwrap_unless_process_is_chosen(quirks: ProblemSet) -> None:
    assert isinstance(make_sandbox(fast_config()), BwrapSandbox)
    assert Evaluator(quirks, fast_config()).sandbox.backend == "bwrap"
    process = Evaluator(quirks, fast_config(backend="process"))
    assert isinstance(process.sandbox, ProcessSandbox)
    result = process.evaluate("hanoi", quirks.problems["hanoi"].correct_source)
    assert result.passed == result.total


def _path_without_bwrap(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("prlimit", "setpriv"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    return str(bin_dir)


def test_missing_bwrap_fails_at_start_up_without_falling_back(
    tmp_path: Path, quirks: ProblemSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", _path_without_bwrap(tmp_path))
    with pytest.raises(SandboxUnavailable, match="bwrap not found on PATH"):
        make_sandbox(fast_config())
    with pytest.raises(SandboxUnavailable, match="bwrap"):
        Evaluator(quirks, fast_config())
    assert isinstance(make_sandbox(fast_config(backend="process")), ProcessSandbox)


def test_bwrap_that_cannot_create_namespaces_fails_at_start_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = _path_without_bwrap(tmp_path)
    fake = Path(bin_dir) / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", bin_dir)
    with pytest.raises(SandboxUnavailable, match="No permissions to create new namespace"):
        make_sandbox(fast_config())
