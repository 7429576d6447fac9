"""Sandbox backends: what a sandboxed process sees, explicit backend choice, start-up failures."""

from __future__ import annotations

import ast
import os
import shutil
import sys
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


def _facts(sandbox, tmp_path: Path, code: str = FACTS) -> dict:
    workdir = tmp_path / "work"
    workdir.mkdir()
    workdir.chmod(0o755)
    run = sandbox.run([sandbox.python, *PYTHON_FLAGS, "-c", code], workdir, timeout=30)
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


KERNEL_FACTS = """
import ctypes, errno, os, subprocess, sys, threading
libc = ctypes.CDLL(None, use_errno=True)

def attempt(call):
    result = call()
    return 0 if result == 0 else errno.errorcode.get(ctypes.get_errno(), "?")

facts = {
    "unshare_user": attempt(lambda: libc.unshare(0x10000000)),
    "unshare_mount": attempt(lambda: libc.unshare(0x00020000)),
    "setns": attempt(lambda: libc.setns(os.open("/proc/self/ns/uts", os.O_RDONLY), 0)),
    "mount": attempt(lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
    "umount2": attempt(lambda: libc.umount2(b"/tmp", 0)),
    "pivot_root": attempt(lambda: libc.syscall(155 if os.uname().machine == "x86_64" else 41,
                                               b"/tmp", b"/tmp")),
    "clone3": attempt(lambda: libc.syscall(435, None, 0)),
    "prefix": sys.prefix,
    "seccomp": [l.split()[1] for l in open("/proc/self/status") if l.startswith("Seccomp:")],
}
box = []
thread = threading.Thread(target=lambda: box.append("thread"))
thread.start()
thread.join()
pid = os.fork()
if pid == 0:
    os._exit(7)
facts["works"] = box + [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]),
                        subprocess.run(["/bin/true"]).returncode]
for path in ("/", "/usr/coral-probe"):
    try:
        open(path.rstrip("/") + "/coral-probe", "w")
        facts["writable " + path] = True
    except OSError:
        facts["writable " + path] = False
facts["visible"] = sorted(os.listdir("/")), sorted(os.listdir("/usr"))
print(repr(facts))
"""


def test_namespaces_and_mounts_are_refused_while_threads_and_forks_work(tmp_path: Path) -> None:
    """The seccomp filter: namespace and mount calls fail with EPERM, clone3 with ENOSYS (so
    glibc falls back to clone, which threads and forks still use)."""
    facts = _facts(make_sandbox(fast_config()), tmp_path, KERNEL_FACTS)
    refused = ("unshare_user", "unshare_mount", "setns", "mount", "umount2", "pivot_root")
    assert {key: facts[key] for key in refused} == dict.fromkeys(refused, "EPERM")
    assert facts["clone3"] == "ENOSYS"
    assert facts["seccomp"] == ["2"]
    assert facts["works"] == ["thread", 7, 0]
    assert facts["prefix"] == os.path.realpath(sys.base_prefix)  # its own stdlib, not /usr's
    assert not facts["writable /"] and not facts["writable /usr/coral-probe"]
    root, usr = facts["visible"]
    assert "etc" not in root and "home" not in root and "work" not in root
    assert "local" not in usr and "share" not in usr and "include" not in usr


def _bpf_run(program: bytes, nr: int, arch: int, arg0: int = 0) -> int:
    """A classic-BPF interpreter for the instructions the filter uses."""
    import struct

    data = struct.pack("=iIQ6Q", nr, arch, 0, arg0 & 0xFFFFFFFFFFFFFFFF, 0, 0, 0, 0, 0)
    code = [struct.unpack_from("=HBBI", program, 8 * i) for i in range(len(program) // 8)]
    pc, acc = 0, 0
    while True:
        op, jt, jf, k = code[pc]
        if op == 0x20:  # ld [k]
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif op in (0x15, 0x35, 0x45):  # jeq, jge, jset
            taken = {0x15: acc == k, 0x35: acc >= k, 0x45: bool(acc & k)}[op]
            pc += 1 + (jt if taken else jf)
        elif op == 0x06:
            return k
        else:
            raise AssertionError(f"unexpected BPF op {op:#x}")


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_seccomp_filter_decisions(machine: str) -> None:
    import errno

    from coral_dagster.benchmark import seccomp

    program = seccomp.filter_program(machine)
    arch = seccomp.ARCHES[machine]
    n = arch.numbers
    eperm, enosys = seccomp.RET_ERRNO | errno.EPERM, seccomp.RET_ERRNO | errno.ENOSYS
    for name in ("unshare", "setns", "mount", "umount2", "pivot_root", "fsopen", "open_tree"):
        assert _bpf_run(program, n[name], arch.audit) == eperm, name
    assert _bpf_run(program, n["clone3"], arch.audit) == enosys
    fork_flags = 0x01200011  # CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD
    thread_flags = 0x003D0F00  # what pthread_create passes
    assert _bpf_run(program, n["clone"], arch.audit, fork_flags) == seccomp.RET_ALLOW
    assert _bpf_run(program, n["clone"], arch.audit, thread_flags) == seccomp.RET_ALLOW
    for flag in (0x10000000, 0x00020000, 0x20000000, 0x40000000, 0x02000000, 0x08000000):
        assert _bpf_run(program, n["clone"], arch.audit, fork_flags | flag) == eperm, hex(flag)
    assert _bpf_run(program, 0, arch.audit) == seccomp.RET_ALLOW  # read / io_setup
    assert _bpf_run(program, n["mount"], 0x40000003) == seccomp.RET_KILL_PROCESS  # i386
    if arch.x32:
        x32_unshare = seccomp.X32_SYSCALL_BIT | n["unshare"]
        assert _bpf_run(program, x32_unshare, arch.audit) == seccomp.RET_KILL_PROCESS
    with pytest.raises(seccomp.SeccompUnsupported, match="riscv64"):
        seccomp.filter_program("riscv64")


BURN_IN_CHILD = """
import os
pid = os.fork()
if pid == 0:
    total = 0
    for i in range(3_000_000):
        total += i
    os._exit(0)
os.waitpid(pid, 0)
"""


@pytest.mark.parametrize("method", ["cgroup2", "cgroup1"])
def test_cpu_accounting_counts_the_whole_tree(method: str, tmp_path: Path) -> None:
    """Both hierarchies count a forked child's CPU; a missing one fails at start-up, by name."""
    from coral_dagster.benchmark.cpu_accounting import CpuAccountingUnavailable, locate

    try:
        locate(method)
    except CpuAccountingUnavailable as err:
        with pytest.raises(SandboxUnavailable, match=method):
            make_sandbox(fast_config(cpu_accounting=method))
        pytest.skip(str(err))
    sandbox = make_sandbox(fast_config(cpu_accounting=method))
    workdir = tmp_path / "work"
    workdir.mkdir()
    workdir.chmod(0o755)
    run = sandbox.run([sandbox.python, *PYTHON_FLAGS, "-c", BURN_IN_CHILD], workdir, timeout=30)
    assert run.returncode == 0, run.output
    assert run.cpu_seconds >= 0.05, run.cpu_seconds
