"""Sandboxes that run untrusted candidate programs: bubblewrap (default) or plain rlimits.

``make_sandbox(config)`` builds the configured backend and proves it works by running a tiny
Python command inside it; if it cannot (``bwrap`` missing, namespaces refused, ...) it raises
``SandboxUnavailable`` at start-up. It never falls back to another backend.

Every launch is ``prlimit <limits> -- <backend wrapper> <command>`` started in a new session
(its own process group), so the limits hold before any sandboxed instruction runs. ``prlimit``
(util-linux) sets the rlimits and execs: the thread-safe equivalent of a ``preexec_fn``, which
the evaluator's worker threads rule out. Limits (``SandboxConfig``):

    RLIMIT_AS     memory_mb MiB            RLIMIT_NPROC  max_processes
    RLIMIT_CPU    cpu_seconds (+1 hard)    RLIMIT_FSIZE  max_file_mb MiB
    RLIMIT_NOFILE max_open_files           RLIMIT_CORE   0

``bwrap`` backend: new PID, network, IPC, UTS (and cgroup where possible) namespaces; a
read-only view of ``/usr`` (plus ``/bin``, ``/lib``, ``/lib64``, ``/sbin``) and of the Python
prefix only (no ``/etc``, ``/home``, ``/root``, ``/work``); the work directory read-only at
``/sandbox``; a private tmpfs of ``tmp_mb`` MiB at ``/tmp`` as the only writable place (and the
working directory); fresh ``/proc`` and ``/dev``; ``--die-with-parent``, ``--new-session``,
``--clearenv`` with a minimal environment (no host variables, ``PYTHONHASHSEED=0``).

RLIMIT_NPROC counts processes per real uid and never binds root. As root, bwrap runs without a
user namespace but keeps only CAP_SETUID/SETGID/SETPCAP, and ``setpriv`` switches to uid/gid
``uid_base + n`` (n rotates over ``UID_POOL`` values), drops every capability (bounding and
inheritable sets too) and sets no_new_privs before Python starts: the candidate runs as an
unprivileged user whose process count the limit caps (a fork bomb stops at ``max_processes``).
Rotating uids keep a previous sandbox's dying processes from counting against the next one.
As a non-root user, bwrap adds a user namespace instead (the invoking uid is not root).

``process`` backend (only when chosen explicitly): the rlimits, a new session, a cleared
environment and a private temporary working directory; no namespaces, so the program can read
the host filesystem and open network connections, and it runs as the invoking user (as root,
RLIMIT_NPROC does not bind). Use it only where bwrap cannot run.

The whole process group is killed (SIGKILL) when a run ends; with bwrap the PID namespace dies
with it, taking every process the candidate started.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from coral_dagster.domain.config import SandboxConfig

WORKDIR_MOUNT = "/sandbox"
SANDBOX_TMP = "/tmp"
UID_POOL = 1000
PROBE_TIMEOUT_SECONDS = 30.0
PYTHON_FLAGS: tuple[str, ...] = ("-S", "-s", "-B")  # no site-packages, no user site, no .pyc


class SandboxUnavailable(RuntimeError):
    """The configured sandbox backend cannot run on this machine."""


@dataclass(frozen=True)
class SandboxRun:
    """Outcome of ``Sandbox.run``: exit status (negative = killed by that signal), output."""

    returncode: int | None
    output: str
    timed_out: bool
    seconds: float


def _require_tool(name: str, purpose: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise SandboxUnavailable(
            f"{name} not found on PATH={os.environ.get('PATH', '')!r}; it is needed for {purpose}"
        )
    return os.path.realpath(path)


def interpreter() -> str:
    """The real Python binary (virtualenv links resolved) that runs the harness."""
    return os.path.realpath(sys.executable)


class Sandbox(ABC):
    """Launches commands under one backend's isolation and ``SandboxConfig``'s limits."""

    backend: str = ""

    def __init__(self, config: SandboxConfig):
        self.config = config
        self.prlimit = _require_tool("prlimit", "setting the sandbox rlimits (util-linux)")
        self.python = interpreter()
        self.tools: tuple[str, ...] = (self.prlimit,)
        self._uids = itertools.count()
        self._uid_lock = threading.Lock()

    # -- what runs where -------------------------------------------------------------------
    @abstractmethod
    def inner_path(self, workdir: Path) -> str:
        """Where ``workdir`` is seen by the sandboxed process."""

    @abstractmethod
    def _wrap(self, argv: Sequence[str], workdir: Path, cwd: Path) -> tuple[list[str], str | None]:
        """The backend wrapper around ``argv`` and the host cwd to start it in (or None)."""

    def environment(self) -> dict[str, str]:
        """The whole environment of a sandboxed process: nothing from the host."""
        return {
            "PATH": "/usr/bin:/bin",
            "HOME": SANDBOX_TMP,
            "LANG": "C.UTF-8",
            "PYTHONHASHSEED": "0",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONIOENCODING": "utf-8",
        }

    def limits(self, cpu_seconds: int | None = None) -> list[str]:
        """``prlimit`` options for the configured limits (``cpu_seconds`` overrides the CPU one)."""
        c = self.config
        cpu = int(cpu_seconds if cpu_seconds is not None else c.cpu_seconds)
        memory, fsize = c.memory_mb << 20, c.max_file_mb << 20
        return [
            f"--as={memory}:{memory}",
            f"--cpu={cpu}:{cpu + 1}",
            f"--nproc={c.max_processes}:{c.max_processes}",
            f"--fsize={fsize}:{fsize}",
            f"--nofile={c.max_open_files}:{c.max_open_files}",
            "--core=0:0",
        ]

    def next_uid(self) -> int:
        with self._uid_lock:
            return self.config.uid_base + next(self._uids) % UID_POOL

    def command(
        self, argv: Sequence[str], workdir: Path, cwd: Path, cpu_seconds: int | None = None
    ) -> tuple[list[str], str | None]:
        wrapped, host_cwd = self._wrap(argv, workdir, cwd)
        return [self.prlimit, *self.limits(cpu_seconds), "--", *wrapped], host_cwd

    # -- running -----------------------------------------------------------------------------
    def spawn(
        self,
        argv: Sequence[str],
        workdir: Path,
        cwd: Path,
        *,
        output_fd: int,
        pass_fds: Sequence[int] = (),
        cpu_seconds: int | None = None,
    ) -> subprocess.Popen:
        """Start ``argv`` in the sandbox; stdout and stderr go to ``output_fd``, stdin is empty.

        ``workdir`` (host) is visible read-only at ``inner_path(workdir)``; ``cwd`` (host, a
        fresh empty directory) is the writable working directory for the ``process`` backend
        (bwrap uses its private tmpfs instead). The process leads a new session; end it with
        ``kill``.
        """
        cmd, host_cwd = self.command(argv, workdir, cwd, cpu_seconds)
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=output_fd,
            stderr=output_fd,
            pass_fds=tuple(pass_fds),
            cwd=host_cwd,
            env=self.environment(),
            start_new_session=True,
            close_fds=True,
        )

    @staticmethod
    def kill(proc: subprocess.Popen) -> None:
        """SIGKILL the process group of ``proc`` (the sandbox and all it started) and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def run(
        self, argv: Sequence[str], workdir: Path, *, timeout: float, cpu_seconds: int | None = None
    ) -> SandboxRun:
        """Run ``argv`` to completion (or ``timeout`` wall seconds); output truncated."""
        limit = self.config.max_output_bytes
        with tempfile.TemporaryDirectory(prefix="coral-run-") as tmp:
            out_path, cwd = Path(tmp) / "output", Path(tmp) / "cwd"
            cwd.mkdir()
            cwd.chmod(0o777)
            fd = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            started = time.perf_counter()
            try:
                proc = self.spawn(argv, workdir, cwd, output_fd=fd, cpu_seconds=cpu_seconds)
            finally:
                os.close(fd)
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                self.kill(proc)
            seconds = time.perf_counter() - started
            with open(out_path, "rb") as f:
                output = f.read(limit).decode("utf-8", "replace")
        return SandboxRun(proc.returncode, output, timed_out, seconds)


def _system_binds() -> list[str]:
    """Read-only binds (or symlinks, on merged-/usr systems) of /usr and the library dirs."""
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


class BwrapSandbox(Sandbox):
    backend = "bwrap"

    def __init__(self, config: SandboxConfig):
        super().__init__(config)
        self.bwrap = _require_tool("bwrap", "the bwrap sandbox backend (Debian: bubblewrap)")
        self.as_root = os.geteuid() == 0
        self.setpriv = (
            _require_tool("setpriv", "dropping root inside the bwrap sandbox (util-linux)")
            if self.as_root
            else ""
        )
        self.tools += (self.bwrap, self.setpriv)
        system = ["/usr", "/bin", "/sbin", "/lib", "/lib64"]
        self.prefix_binds: list[str] = []
        for prefix in sorted({os.path.realpath(sys.base_prefix), os.path.dirname(self.python)}):
            if not _under(prefix, system) and not _under(prefix, self.prefix_binds):
                self.prefix_binds.append(prefix)
        if self.setpriv and not _under(self.setpriv, system):
            raise SandboxUnavailable(f"setpriv at {self.setpriv} is outside /usr, /bin, /sbin")

    def inner_path(self, workdir: Path) -> str:
        return WORKDIR_MOUNT

    def _wrap(self, argv: Sequence[str], workdir: Path, cwd: Path) -> tuple[list[str], str | None]:
        c = self.config
        args = [
            self.bwrap,
            "--unshare-pid",
            "--unshare-net",
            "--unshare-ipc",
            "--unshare-uts",
            "--unshare-cgroup-try",
            "--hostname",
            "sandbox",
            "--die-with-parent",
            "--new-session",
            *_system_binds(),
        ]
        for prefix in self.prefix_binds:
            args += ["--ro-bind", prefix, prefix]
        args += ["--ro-bind", str(workdir), WORKDIR_MOUNT]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--perms", "1777", "--size", str(c.tmp_mb << 20), "--tmpfs", SANDBOX_TMP]
        args += ["--chdir", SANDBOX_TMP, "--clearenv"]
        for key, value in self.environment().items():
            args += ["--setenv", key, value]
        if self.as_root:
            uid = str(self.next_uid())
            args += [
                "--cap-add",
                "CAP_SETUID",
                "--cap-add",
                "CAP_SETGID",
                "--cap-add",
                "CAP_SETPCAP",
            ]
            args += ["--", self.setpriv, "--reuid", uid, "--regid", uid, "--clear-groups"]
            args += ["--no-new-privs", "--bounding-set", "-all", "--inh-caps", "-all"]
        else:
            args += ["--unshare-user", "--disable-userns"]
        return [*args, "--", *argv], None


class ProcessSandbox(Sandbox):
    backend = "process"

    def inner_path(self, workdir: Path) -> str:
        return str(workdir)

    def _wrap(self, argv: Sequence[str], workdir: Path, cwd: Path) -> tuple[list[str], str | None]:
        return list(argv), str(cwd)


BACKENDS: dict[str, type[Sandbox]] = {"bwrap": BwrapSandbox, "process": ProcessSandbox}
_probed: dict[tuple, str] = {}
_probe_lock = threading.Lock()


def _probe(sandbox: Sandbox) -> None:
    """Run ``python -c`` in ``sandbox`` (once per process and configuration); raise on failure."""
    key = (sandbox.backend, sandbox.python, sandbox.tools, sandbox.config.model_dump_json())
    with _probe_lock:
        if key in _probed:
            return
        with tempfile.TemporaryDirectory(prefix="coral-probe-") as tmp:
            Path(tmp).chmod(0o755)
            code = "import sys; print('coral-sandbox-ok', sys.version_info[0])"
            run = sandbox.run(
                [sandbox.python, *PYTHON_FLAGS, "-c", code],
                Path(tmp),
                timeout=PROBE_TIMEOUT_SECONDS,
            )
        if run.returncode != 0 or "coral-sandbox-ok 3" not in run.output:
            raise SandboxUnavailable(
                f"the {sandbox.backend} sandbox cannot run Python here (exit status "
                f"{run.returncode}, timed out: {run.timed_out}): {run.output.strip()[:2000]}"
            )
        _probed[key] = run.output


def make_sandbox(config: SandboxConfig) -> Sandbox:
    """Build the backend ``config.backend`` names and check that it runs; no fallback."""
    try:
        backend = BACKENDS[config.backend]
    except KeyError:
        raise SandboxUnavailable(
            f"unknown sandbox backend {config.backend!r}; choose one of {sorted(BACKENDS)}"
        ) from None
    sandbox = backend(config)
    _probe(sandbox)
    return sandbox
