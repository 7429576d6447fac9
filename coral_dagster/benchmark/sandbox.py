"""Sandboxes that run untrusted candidate programs: bubblewrap (default) or plain rlimits.

``make_sandbox(config)`` builds the configured backend and proves it works by running a tiny
Python command inside it (and, for bwrap, that the seccomp filter is active and the host's CPU
accounting counts it); if it cannot, it raises ``SandboxUnavailable`` at start-up. It never
falls back to another backend or another accounting method.

Every launch is ``prlimit <limits> -- <backend wrapper> <command>`` started in a new session by
a launch helper (``launcher``) that lives in a cgroup of its own (``cpu_accounting``), so the
launch is born in that cgroup and the host's CPU figure covers every process it ever starts.
``prlimit`` (util-linux) sets the rlimits and execs: the thread-safe equivalent of a
``preexec_fn``, which the evaluator's worker threads rule out. Limits (``SandboxConfig``):

    RLIMIT_AS     memory_mb MiB            RLIMIT_NPROC  max_processes
    RLIMIT_CPU    cpu_seconds (+1 hard)    RLIMIT_FSIZE  max_file_mb MiB
    RLIMIT_NOFILE max_open_files           RLIMIT_CORE   0

``bwrap`` backend: new PID, network, IPC, UTS (and cgroup where possible) namespaces; a
read-only view of what the interpreter needs and nothing else: ``/usr/bin``, ``/usr/sbin``, the
directories of the C library and the dynamic loader (``/usr/lib/<multiarch>``, ``/usr/lib64``),
the interpreter's binary, shared library and standard library (its ``site-packages`` masked by
an empty read-only tmpfs, as is any other package directory inside the view), and ``/bin``,
``/lib``, ... as on the host. So no installed package, benchmark data or project source is
visible: no ``/usr/local``, ``/usr/share``, ``/usr/lib/python3*``, ``/etc``, ``/home``,
``/root`` (beyond the path to the interpreter), ``/work``. The work directory is read-only at
``/sandbox``; a private tmpfs of ``tmp_mb`` MiB at ``/tmp`` is the only writable place (and the
working directory; the root is remounted read-only); fresh ``/proc`` and ``/dev``;
``--die-with-parent``, ``--new-session``, ``--clearenv`` with a minimal environment (no host
variables, ``PYTHONHASHSEED=0``). A seccomp filter (``seccomp.py``) refuses namespaces and
mounts (``unshare``, ``setns``, the mount calls, ``clone`` with namespace flags, ...) in root
and non-root mode alike.

RLIMIT_NPROC counts processes per real uid and never binds root. As root, bwrap runs without a
user namespace but keeps only CAP_SETUID/SETGID/SETPCAP, and ``setpriv`` switches to uid/gid
``uid_base + n`` (n rotates over ``UID_POOL`` values; the config bounds keep the range clear of
system uids, 65534-65535 and 2**32-1), drops every capability (bounding and inheritable sets
too) and sets no_new_privs before Python starts: the candidate runs as an unprivileged user
whose process count the limit caps (a fork bomb stops at ``max_processes``). Rotating uids keep
a previous sandbox's dying processes from counting against the next one. As a non-root user,
bwrap adds a user namespace instead (the invoking uid is not root).

``process`` backend (only when chosen explicitly): the rlimits, a new session, a cleared
environment and a private temporary working directory; no namespaces, no seccomp filter, no
restricted view, so the program can read the host filesystem (benchmark data included), open
network connections and, as root, leave its cgroup; it runs as the invoking user (as root,
RLIMIT_NPROC does not bind). Verdicts stay host-side. Use it only where bwrap cannot run.

The whole process group is killed (SIGKILL) when a run ends, then whatever is left in the
helper's cgroup; with bwrap the PID namespace dies with it, taking every process the candidate
started.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import signal
import site
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from coral_dagster.benchmark.cpu_accounting import (
    CpuAccounting,
    CpuAccountingUnavailable,
    CpuGroup,
)
from coral_dagster.benchmark.launcher import (
    HelperProcess,
    LaunchError,
    LaunchHelper,
    LaunchHelpers,
    helpers_for,
)
from coral_dagster.benchmark.seccomp import SeccompUnsupported, filter_program
from coral_dagster.domain.config import SANDBOX_UID_POOL, SandboxConfig

WORKDIR_MOUNT = "/sandbox"
SANDBOX_TMP = "/tmp"
UID_POOL = SANDBOX_UID_POOL
PROBE_TIMEOUT_SECONDS = 30.0
PYTHON_FLAGS: tuple[str, ...] = ("-S", "-s", "-B")  # no site-packages, no user site, no .pyc
TOP_DIRS: tuple[str, ...] = ("/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32")
EXECUTABLE_DIRS: tuple[str, ...] = ("/usr/bin", "/usr/sbin")
PACKAGE_DIR_PATTERNS: tuple[str, ...] = (
    *(
        f"{top}/{lib}/python*/{kind}"
        for top in ("/usr", "/usr/local", "")
        for lib in ("lib", "lib64", "lib32")
        for kind in ("site-packages", "dist-packages")
    ),
    "/usr/lib/python3/dist-packages",
)
MASK_TMPFS_BYTES = 4096


class SandboxUnavailable(RuntimeError):
    """The configured sandbox backend cannot run on this machine."""


@dataclass(frozen=True)
class SandboxRun:
    """Outcome of ``Sandbox.run``: exit status (negative = killed by that signal), output, wall
    seconds and the CPU seconds of the whole process tree (measured by the host)."""

    returncode: int | None
    output: str
    timed_out: bool
    seconds: float
    cpu_seconds: float = 0.0


@dataclass
class Launched:
    """A started sandbox: its process and the cgroup that accounts its whole tree."""

    proc: HelperProcess
    cpu: CpuGroup
    helper: LaunchHelper
    pool: LaunchHelpers

    def kill(self) -> None:
        """SIGKILL the process group and whatever is left in the cgroup; reap; free the slot."""
        try:
            Sandbox.kill(self.proc)
        finally:
            self.pool.release(self.helper)


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


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def interpreter_files(python: str) -> list[str]:
    """What the interpreter needs: its binary, its shared library and its standard library."""
    files = [python]
    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        libdir = sysconfig.get_config_var("LIBDIR") or ""
        soname = sysconfig.get_config_var("INSTSONAME") or ""
        shared = os.path.join(libdir, soname)
        if libdir and soname and os.path.exists(shared):
            files.append(os.path.realpath(shared))
    for key in ("stdlib", "platstdlib"):
        files.append(os.path.realpath(sysconfig.get_path(key)))
    dynload = sysconfig.get_config_var("DESTSHARED")
    if dynload and os.path.isdir(dynload):
        files.append(os.path.realpath(dynload))
    return _outermost(files)


def library_dirs() -> list[str]:
    """The directories of the C library and the dynamic loader this interpreter runs with
    (from its memory map), where the shared libraries of the interpreter and its extension
    modules live (``/usr/lib/x86_64-linux-gnu`` on Debian, ``/usr/lib64`` on Fedora), plus
    ``/usr/lib64`` and ``/usr/lib32`` where they exist (the loader's path on Debian)."""
    dirs: set[str] = set()
    for line in Path("/proc/self/maps").read_text().splitlines():
        path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
        name = os.path.basename(path)
        if name.startswith(("libc.so", "libc-", "ld-linux", "ld64.so", "ld-musl")):
            dirs.add(os.path.dirname(os.path.realpath(path)))
    dirs.update(d for d in ("/usr/lib64", "/usr/lib32") if os.path.isdir(d))
    if not dirs:
        raise SandboxUnavailable("cannot find the C library's directory in /proc/self/maps")
    return _outermost(dirs)


def _outermost(paths: Sequence[str] | set[str]) -> list[str]:
    """``paths`` without those inside another one of them."""
    kept: list[str] = []
    for path in sorted(set(paths), key=len):
        if not _under(path, kept):
            kept.append(path)
    return kept


def package_dirs(stdlib_dirs: Sequence[str]) -> list[str]:
    """Every site-packages / dist-packages directory that the sandbox's view could show
    (pip's, Debian's, the interpreter's own, the user site)."""
    found: set[str] = set()
    patterns = list(PACKAGE_DIR_PATTERNS)
    for stdlib in stdlib_dirs:
        patterns += [f"{stdlib}/site-packages", f"{stdlib}/dist-packages"]
    for pattern in patterns:
        found.update(glob.glob(pattern))
    found.update(site.getsitepackages())
    found.update(sysconfig.get_path(k) for k in ("purelib", "platlib"))
    found.add(site.getusersitepackages())
    return sorted({os.path.realpath(d) for d in found if os.path.isdir(d)})


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
        try:
            self.accounting = CpuAccounting(config.cpu_accounting)
        except CpuAccountingUnavailable as err:
            raise SandboxUnavailable(
                f"CPU accounting {config.cpu_accounting!r} unavailable: {err}"
            ) from None
        self.helpers = helpers_for(self.accounting)

    # -- what runs where -------------------------------------------------------------------
    @abstractmethod
    def inner_path(self, workdir: Path) -> str:
        """Where ``workdir`` is seen by the sandboxed process."""

    @abstractmethod
    def _wrap(
        self, argv: Sequence[str], workdir: Path, cwd: Path, seccomp_fd: int | None
    ) -> tuple[list[str], str | None]:
        """The backend wrapper around ``argv`` and the host cwd to start it in (or None)."""

    def seccomp(self) -> bytes | None:
        """The compiled seccomp filter this backend installs (None: none)."""
        return None

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
        """The next sandbox uid; the config bounds keep it a plain unprivileged uid."""
        with self._uid_lock:
            uid = self.config.uid_base + next(self._uids) % UID_POOL
        if not 1000 <= uid <= 2**32 - 2 or uid in (65534, 65535):
            raise RuntimeError(f"sandbox uid {uid} is not an ordinary unprivileged uid")
        return uid

    def command(
        self,
        argv: Sequence[str],
        workdir: Path,
        cwd: Path,
        cpu_seconds: int | None = None,
        seccomp_fd: int | None = None,
    ) -> tuple[list[str], str | None]:
        wrapped, host_cwd = self._wrap(argv, workdir, cwd, seccomp_fd)
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
    ) -> Launched:
        """Start ``argv`` in the sandbox, inside a fresh cgroup; stdout and stderr go to
        ``output_fd``, stdin is empty.

        ``workdir`` (host) is visible read-only at ``inner_path(workdir)``; ``cwd`` (host, a
        fresh empty directory) is the writable working directory for the ``process`` backend
        (bwrap uses its private tmpfs instead). The process leads a new session; end it with
        ``Launched.kill``.
        """
        try:
            helper = self.helpers.acquire(self.python)
        except (LaunchError, CpuAccountingUnavailable) as err:
            raise RuntimeError(f"cannot start a sandbox launch helper: {err}") from None
        opened: list[int] = []
        try:
            devnull = os.open(os.devnull, os.O_RDONLY)
            opened.append(devnull)
            fds = {0: devnull, 1: output_fd, 2: output_fd, **{fd: fd for fd in pass_fds}}
            program, seccomp_fd = self.seccomp(), None
            if program is not None:
                seccomp_fd, filter_w = os.pipe()
                opened.append(seccomp_fd)
                os.write(filter_w, program)  # a few hundred bytes: fits the pipe buffer
                os.close(filter_w)
                fds[seccomp_fd] = seccomp_fd
            cmd, host_cwd = self.command(argv, workdir, cwd, cpu_seconds, seccomp_fd)
            proc = helper.start(cmd, self.environment(), host_cwd, fds)
        except BaseException:
            self.helpers.release(helper)
            raise
        finally:
            for fd in opened:
                os.close(fd)
        return Launched(proc, helper.cpu, helper, self.helpers)

    @staticmethod
    def kill(proc: HelperProcess | subprocess.Popen) -> None:
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
                launched = self.spawn(argv, workdir, cwd, output_fd=fd, cpu_seconds=cpu_seconds)
            finally:
                os.close(fd)
            timed_out = False
            try:
                launched.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                cpu = launched.cpu.seconds()
                launched.kill()
            seconds = time.perf_counter() - started
            with open(out_path, "rb") as f:
                output = f.read(limit).decode("utf-8", "replace")
        return SandboxRun(launched.proc.returncode, output, timed_out, seconds, cpu)


def _top_level_links() -> list[str]:
    """``/bin``, ``/lib``, ... as on the host: symlinks on merged-/usr systems, else binds."""
    args: list[str] = []
    for top in TOP_DIRS:
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    return args


def _searchable_parents(path: str, made: set[str]) -> list[str]:
    """``--dir`` (mode 0755) for each ancestor of ``path``, so the unprivileged candidate can
    traverse to a bound file (bwrap makes missing parents with mode 0700)."""
    args: list[str] = []
    parts = Path(path).parent.parts
    for depth in range(2, len(parts) + 1):
        ancestor = str(Path(*parts[:depth]))
        if ancestor not in made and not os.path.islink(ancestor):
            made.add(ancestor)
            args += ["--perms", "0755", "--dir", ancestor]
    return args


def _mask(path: str) -> list[str]:
    """An empty, read-only, tiny tmpfs over ``path``."""
    return ["--size", str(MASK_TMPFS_BYTES), "--tmpfs", path, "--remount-ro", path]


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
        try:
            self.filter = filter_program()
        except SeccompUnsupported as err:
            raise SandboxUnavailable(str(err)) from None
        self.mounts = self._view()
        if self.setpriv and not _under(self.setpriv, self.visible):
            raise SandboxUnavailable(
                f"setpriv at {self.setpriv} is outside the sandbox's view {self.visible}"
            )

    def _view(self) -> list[str]:
        """Read-only binds of what the interpreter needs, then masks over package dirs."""
        top = [t for t in TOP_DIRS if os.path.isdir(t) and not os.path.islink(t)]
        system = _outermost([*EXECUTABLE_DIRS, *library_dirs()])
        files = interpreter_files(self.python)
        args: list[str] = []
        made: set[str] = set()
        for path in system:
            args += _searchable_parents(path, made)
            args += ["--ro-bind", path, path]
        for path in files:
            if not _under(path, [*system, *top]):
                args += _searchable_parents(path, made)
                args += ["--ro-bind", path, path]
        self.visible = [*top, *system, *files]
        stdlib = [f for f in files if os.path.isdir(f)]
        for directory in package_dirs(stdlib):
            if _under(directory, self.visible):
                args += _mask(directory)
        return args

    def seccomp(self) -> bytes | None:
        return self.filter

    def inner_path(self, workdir: Path) -> str:
        return WORKDIR_MOUNT

    def _wrap(
        self, argv: Sequence[str], workdir: Path, cwd: Path, seccomp_fd: int | None
    ) -> tuple[list[str], str | None]:
        c = self.config
        if seccomp_fd is None:
            raise RuntimeError("the bwrap sandbox needs its seccomp filter fd")
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
            *self.mounts,
            *_top_level_links(),
        ]
        args += ["--ro-bind", str(workdir), WORKDIR_MOUNT]
        args += ["--proc", "/proc", "--dev", "/dev"]
        args += ["--perms", "1777", "--size", str(c.tmp_mb << 20), "--tmpfs", SANDBOX_TMP]
        args += ["--remount-ro", "/", "--chdir", SANDBOX_TMP, "--clearenv"]
        args += ["--seccomp", str(seccomp_fd)]
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

    def _wrap(
        self, argv: Sequence[str], workdir: Path, cwd: Path, seccomp_fd: int | None
    ) -> tuple[list[str], str | None]:
        return list(argv), str(cwd)


BACKENDS: dict[str, type[Sandbox]] = {"bwrap": BwrapSandbox, "process": ProcessSandbox}
_probed: dict[tuple, str] = {}
_probe_lock = threading.Lock()
PROBE_CODE = (
    "import sys\n"
    "status = open('/proc/self/status').read()\n"
    "seccomp = [l.split()[1] for l in status.splitlines() if l.startswith('Seccomp:')]\n"
    "print('coral-sandbox-ok', sys.version_info[0], 'seccomp', *seccomp)\n"
)


def _probe(sandbox: Sandbox) -> None:
    """Run ``python -c`` in ``sandbox`` (once per process and configuration); raise on failure:
    it must run, (bwrap) under the seccomp filter, and the host must see its CPU time."""
    key = (sandbox.backend, sandbox.python, sandbox.tools, sandbox.config.model_dump_json())
    with _probe_lock:
        if key in _probed:
            return
        with tempfile.TemporaryDirectory(prefix="coral-probe-") as tmp:
            Path(tmp).chmod(0o755)
            run = sandbox.run(
                [sandbox.python, *PYTHON_FLAGS, "-c", PROBE_CODE],
                Path(tmp),
                timeout=PROBE_TIMEOUT_SECONDS,
            )
        if run.returncode != 0 or "coral-sandbox-ok 3" not in run.output:
            raise SandboxUnavailable(
                f"the {sandbox.backend} sandbox cannot run Python here (exit status "
                f"{run.returncode}, timed out: {run.timed_out}): {run.output.strip()[:2000]}"
            )
        if sandbox.seccomp() is not None and "seccomp 2" not in run.output:
            raise SandboxUnavailable(
                f"the {sandbox.backend} sandbox ran without its seccomp filter: {run.output!r}"
            )
        if run.cpu_seconds <= 0.0:
            raise SandboxUnavailable(
                f"CPU accounting {sandbox.config.cpu_accounting!r} saw no CPU time for the probe "
                f"run (cgroup {sandbox.accounting.base})"
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
