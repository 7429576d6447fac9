"""Starting sandbox launches inside a cgroup without paying a cgroup migration per launch.

Moving a process into a cgroup (a write to ``cgroup.procs``) takes the kernel's global
``cgroup_threadgroup_rwsem`` for writing, which waits for an RCU grace period: ~10 ms of latency
per launch on an otherwise idle machine. A process forked by a process that is already in the
cgroup is born there at no cost. So each concurrent launch slot has a *launch helper*: a small
stdlib-only Python process (``HELPER_CODE``), moved once into its own cgroup, that forks and
execs the launch commands the host sends it over a Unix socket (with the file descriptors the
launch needs, as ``SCM_RIGHTS``). The launch and everything it starts are then counted by the
helper's cgroup; the helper itself sleeps in ``waitpid`` while a launch runs, so the host's
per-case CPU deltas see the launch's tree only.

The helper restores SIGPIPE and SIGXFSZ to their defaults (as ``subprocess`` does), starts a
new session for the launch, places the passed descriptors at the numbers the host asks for and
closes every other one. It exits when the host's end of the socket closes. Helpers are pooled
per process and accounting method; one serves one launch at a time.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence

from coral_dagster.benchmark.cpu_accounting import CpuAccounting, CpuGroup

HELPER_START_SECONDS = 30.0
EMPTY_WAIT_SECONDS = 5.0
HELPER_CODE = r"""
import fcntl, json, os, signal, socket, sys

sock = socket.socket(fileno=int(sys.argv[1]))
while True:
    try:
        data, fds, _, _ = socket.recv_fds(sock, 1 << 20, 64)
    except OSError:
        os._exit(0)
    if not data:
        os._exit(0)
    request = json.loads(data)
    targets = request["targets"]
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            for name in ("SIGPIPE", "SIGXFSZ"):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
            low = max(targets) + 1
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD, low) for fd in fds]
            for fd in fds:
                os.close(fd)
            for fd, target in zip(high, targets):
                os.dup2(fd, target)
            keep = sorted(set(targets))
            previous = -1
            for fd in keep + [os.sysconf("SC_OPEN_MAX")]:
                if previous + 1 < fd:  # closerange(a, a) would close everything from a
                    os.closerange(previous + 1, fd)
                previous = fd
            if request["cwd"]:
                os.chdir(request["cwd"])
            os.execve(request["argv"][0], request["argv"], request["env"])
        finally:
            os._exit(127)
    for fd in fds:
        os.close(fd)
    sock.send(json.dumps({"pid": pid}).encode())
    _, status = os.waitpid(pid, 0)
    sock.send(json.dumps({"exit": os.waitstatus_to_exitcode(status)}).encode())
"""


class LaunchError(RuntimeError):
    """A launch helper could not be started or did not answer."""


class HelperProcess:
    """The host's handle on a launch started by a helper (``pid``, ``wait``, ``returncode``),
    shaped like the parts of ``subprocess.Popen`` the sandbox uses."""

    def __init__(self, helper: LaunchHelper, pid: int, args: Sequence[str]):
        self.helper, self.pid, self.args = helper, pid, list(args)
        self.returncode: int | None = None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the launch to end; ``subprocess.TimeoutExpired`` after ``timeout``."""
        if self.returncode is not None:
            return self.returncode
        try:
            message = self.helper.receive(timeout)
        except LaunchError:  # the helper died (killed by a process-backend candidate, OOM):
            self.returncode = -signal.SIGKILL  # so did the launch; the helper is retired
            return self.returncode
        if message is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0.0)
        if "exit" not in message:
            raise LaunchError(f"launch helper {self.helper.pid} sent {message!r}, not an exit")
        self.returncode = int(message["exit"])
        return self.returncode

    def poll(self) -> int | None:
        return self.returncode


class LaunchHelper:
    """One helper process in its own cgroup (``cpu``)."""

    def __init__(self, python: str, cpu: CpuGroup):
        self.cpu = cpu
        host_end, helper_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            self.proc = subprocess.Popen(
                [python, "-S", "-s", "-B", "-c", HELPER_CODE, str(helper_end.fileno())],
                stdin=subprocess.DEVNULL,
                pass_fds=(helper_end.fileno(),),
                env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                cwd="/",
                close_fds=True,
            )
        except BaseException:
            host_end.close()
            raise
        finally:
            helper_end.close()
        self.pid = self.proc.pid
        self.sock = host_end
        self.healthy = True
        try:
            cpu.enter(self.pid)  # once per helper: the only cgroup migration it costs
        except OSError as err:
            self.close()
            raise LaunchError(
                f"cannot move launch helper {self.pid} into {cpu.path}: {err}"
            ) from None

    def receive(self, timeout: float | None) -> dict | None:
        """The helper's next message, or None when ``timeout`` passes."""
        self.sock.settimeout(timeout)
        try:
            data = self.sock.recv(1 << 16)
        except TimeoutError:
            return None
        if not data:
            self.healthy = False
            raise LaunchError(f"launch helper {self.pid} died ({self.proc.poll()})")
        return json.loads(data)

    def start(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: str | None,
        fds: Mapping[int, int],
    ) -> HelperProcess:
        """Fork and exec ``argv`` with ``fds`` (target number -> host fd) as its only fds."""
        request = {"argv": list(argv), "env": dict(env), "cwd": cwd, "targets": list(fds)}
        try:
            socket.send_fds(self.sock, [json.dumps(request).encode()], list(fds.values()))
            message = self.receive(HELPER_START_SECONDS)
        except OSError as err:
            self.healthy = False
            raise LaunchError(f"launch helper {self.pid} did not take the launch: {err}") from None
        if message is None or "pid" not in message:
            self.healthy = False
            raise LaunchError(f"launch helper {self.pid} did not start the launch: {message!r}")
        return HelperProcess(self, int(message["pid"]), argv)

    def strays(self) -> list[int]:
        """Processes in the helper's cgroup other than the helper (a finished launch's rest)."""
        text = (self.cpu.path / "cgroup.procs").read_text()
        return [int(p) for p in text.split() if int(p) != self.pid]

    def settle(self) -> bool:
        """After a launch: SIGKILL what is left in the cgroup and wait until only the helper
        remains. False if something survives ``EMPTY_WAIT_SECONDS`` (the helper is retired)."""
        deadline = time.monotonic() + EMPTY_WAIT_SECONDS
        while True:
            left = self.strays()
            if not left:
                return True
            if time.monotonic() > deadline:
                self.healthy = False
                return False
            for pid in left:  # ours: the cgroup holds only this helper's launches
                with contextlib.suppress(ProcessLookupError):  # it died meanwhile
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.001)

    def close(self) -> None:
        """End the helper (its socket closes, it exits) and remove its cgroup."""
        self.healthy = False
        self.sock.close()
        try:
            self.proc.wait(timeout=EMPTY_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.cpu.close()


class LaunchHelpers:
    """A pool of launch helpers for one accounting method (one per concurrent launch)."""

    def __init__(self, accounting: CpuAccounting):
        self.accounting = accounting
        self.free: list[LaunchHelper] = []
        self.started: list[LaunchHelper] = []
        self.lock = threading.Lock()

    def acquire(self, python: str) -> LaunchHelper:
        """A helper whose cgroup holds nothing but itself (the last launch's rest is killed
        here, off the previous launch's critical path, usually already gone)."""
        while True:
            with self.lock:
                helper = self.free.pop() if self.free else None
            if helper is None:
                break
            if helper.healthy and helper.proc.poll() is None and helper.settle():
                return helper
            self._retire(helper)
        helper = LaunchHelper(python, self.accounting.group())
        with self.lock:
            self.started.append(helper)
        return helper

    def release(self, helper: LaunchHelper) -> None:
        if helper.healthy:
            with self.lock:
                self.free.append(helper)
        else:
            self._retire(helper)

    def _retire(self, helper: LaunchHelper) -> None:
        with self.lock:
            self.started.remove(helper)
        helper.close()

    def close(self) -> None:
        """End every helper, busy ones too (at exit: their launches die with them)."""
        with self.lock:
            helpers, self.free, self.started = self.started, [], []
        for helper in helpers:
            helper.close()


_pools: dict[tuple[int, str], LaunchHelpers] = {}
_pools_lock = threading.Lock()


def helpers_for(accounting: CpuAccounting) -> LaunchHelpers:
    """This process's helper pool for ``accounting``'s method (a forked child gets its own)."""
    key = (os.getpid(), accounting.method)
    with _pools_lock:
        if key not in _pools:
            _pools[key] = LaunchHelpers(accounting)
        return _pools[key]


@atexit.register
def _close_helpers() -> None:
    """Runs before ``cpu_accounting``'s cleanup (registered later), so the cgroups are empty."""
    for (pid, _), pool in list(_pools.items()):
        if pid == os.getpid():
            pool.close()
