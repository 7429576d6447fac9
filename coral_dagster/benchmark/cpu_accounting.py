"""CPU time of a whole sandboxed process tree, measured by the host through a per-launch cgroup.

Every launch gets a fresh leaf cgroup, ``<own cgroup>/coral-sandbox-<pid>/<n>``, in the hierarchy
``SandboxConfig.cpu_accounting`` names (no fallback from one to the other):

- ``cgroup2``: the unified hierarchy; the figure is ``usage_usec`` of ``cpu.stat`` (kept by the
  kernel for every cgroup, no controller needed);
- ``cgroup1``: the v1 hierarchy that carries the ``cpuacct`` controller; ``cpuacct.usage`` (ns).

The launch enters the cgroup before it executes anything (``Sandbox.spawn`` holds it at a gate
until the host has written its pid to ``cgroup.procs``), so every process it ever starts is
counted, including children that fork away, daemonise or are never waited for. The candidate
cannot leave the cgroup: cgroupfs is not mounted in the sandbox, the candidate is unprivileged
and it has its own cgroup namespace. The host reads the counter itself; nothing the sandbox
reports enters the figure.

Creating cgroups needs write access to the evaluator's own cgroup: root, or a delegated subtree
(``systemd-run --user --scope -p Delegate=yes ...``) for other users. Where neither is possible,
``make_sandbox`` fails at start-up and names the directory.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import threading
import time
from pathlib import Path

METHODS: tuple[str, ...] = ("cgroup2", "cgroup1")
EMPTY_WAIT_SECONDS = 5.0


class CpuAccountingUnavailable(RuntimeError):
    """The configured cgroup hierarchy is missing or not writable here."""


def _mounts() -> list[tuple[str, str, str, set[str]]]:
    """(mount root, mount point, fs type, super options) of every mount, from mountinfo."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        before, _, after = line.partition(" - ")
        fields, tail = before.split(), after.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, point = fields[3], fields[4].replace("\\040", " ")
        mounts.append((root, point, tail[0], set(tail[2].split(","))))
    return mounts


def _own_cgroup(method: str) -> str:
    """This process's cgroup path in the hierarchy of ``method`` (``/proc/self/cgroup``)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        hierarchy, controllers, path = line.split(":", 2)
        if method == "cgroup2" and hierarchy == "0" and controllers == "":
            return path
        if method == "cgroup1" and "cpuacct" in controllers.split(","):
            return path
    raise CpuAccountingUnavailable(f"/proc/self/cgroup lists no {_describe(method)} hierarchy")


def _describe(method: str) -> str:
    return "cgroup2 (unified)" if method == "cgroup2" else "cgroup v1 cpuacct"


def locate(method: str) -> Path:
    """The directory of this process's cgroup in the ``method`` hierarchy."""
    if method not in METHODS:
        raise CpuAccountingUnavailable(f"unknown cpu_accounting {method!r}; choose {METHODS}")
    own = _own_cgroup(method)
    for root, point, fstype, options in _mounts():
        if method == "cgroup2" and fstype != "cgroup2":
            continue
        if method == "cgroup1" and not (fstype == "cgroup" and "cpuacct" in options):
            continue
        if own == root or own.startswith(root.rstrip("/") + "/"):
            relative = own[len(root.rstrip("/")) :].lstrip("/")
            return Path(point) / relative
    raise CpuAccountingUnavailable(
        f"no {_describe(method)} hierarchy mounted that holds this process's cgroup {own!r} "
        "(see /proc/self/mountinfo)"
    )


class CpuGroup:
    """One launch's leaf cgroup: ``enter(pid)``, ``seconds()`` of CPU so far, ``close()``."""

    def __init__(self, path: Path, method: str):
        self.path, self.method = path, method
        try:
            path.mkdir()
        except OSError as err:
            raise CpuAccountingUnavailable(f"cannot create cgroup {path}: {err}") from None
        self._usage = path / ("cpu.stat" if method == "cgroup2" else "cpuacct.usage")
        self._fd = os.open(self._usage, os.O_RDONLY | os.O_CLOEXEC)

    def enter(self, pid: int) -> None:
        """Move process ``pid`` (and so all it will start) into this cgroup."""
        with open(self.path / "cgroup.procs", "w") as f:
            f.write(str(pid))

    def seconds(self) -> float:
        """CPU seconds (user + system) used by every process that was ever in this cgroup."""
        text = os.pread(self._fd, 4096, 0).decode("ascii")
        if self.method == "cgroup1":
            return int(text) / 1e9
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
        raise RuntimeError(f"{self._usage} has no usage_usec line: {text[:200]!r}")

    def _empty(self) -> bool:
        return not (self.path / "cgroup.procs").read_text().strip()

    def close(self) -> None:
        """Kill what is left (cgroup2: ``cgroup.kill``), wait until empty, remove the cgroup."""
        os.close(self._fd)
        kill = self.path / "cgroup.kill"
        if self.method == "cgroup2" and kill.exists():
            kill.write_text("1")
        deadline = time.monotonic() + EMPTY_WAIT_SECONDS
        while not self._empty():
            if time.monotonic() > deadline:
                _leftover.append(self.path)  # removed at exit, when its processes are gone
                return
            time.sleep(0.001)
        try:
            self.path.rmdir()
        except OSError:  # emptied but not yet released by the kernel: retry at exit
            _leftover.append(self.path)


class CpuAccounting:
    """Makes per-launch cgroups under ``<own cgroup>/coral-sandbox-<pid>`` in one hierarchy."""

    def __init__(self, method: str):
        self.method = method
        self.base = _base(method)

    def group(self) -> CpuGroup:
        return CpuGroup(self.base / str(next(_counter)), self.method)


_counter = itertools.count()
_bases: dict[str, Path] = {}
_bases_lock = threading.Lock()
_leftover: list[Path] = []


def _base(method: str) -> Path:
    with _bases_lock:
        if method not in _bases:
            base = locate(method) / f"coral-sandbox-{os.getpid()}"
            try:
                base.mkdir(exist_ok=True)
            except OSError as err:
                raise CpuAccountingUnavailable(
                    f"cannot create cgroup {base} for sandbox CPU accounting ({method}): {err}; "
                    "run as root or in a delegated cgroup"
                ) from None
            _bases[method] = base
        return _bases[method]


@atexit.register
def _remove_cgroups() -> None:
    for path in [*_leftover, *_bases.values()]:
        with contextlib.suppress(OSError):  # best effort at exit; still busy means still dying
            path.rmdir()
