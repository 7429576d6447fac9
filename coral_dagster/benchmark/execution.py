"""Running one program's test cases in the sandbox: the host side of the harness protocol.

All cases of a candidate run in ONE sandboxed process (``harness.py``). The host enforces the
wall clock from outside: the harness must report the import within
``startup_seconds + timeout_seconds`` and each case within ``timeout_seconds`` of the host's
go for it. A case that overruns is a ``timeout``; one during which the process dies
(``os._exit``, a signal, the memory limit, a closed or forged report channel) is an ``error``.
Either way the process group is killed and a fresh sandbox continues with the next case, so one
bad case costs at most one timeout. A failed import (syntax error, exception at module level,
missing function) makes every case an ``error`` of that exception type; an import that does not
finish makes every remaining case a ``timeout``.

Time and CPU are measured here, never taken from the sandbox. The harness waits for a ``go``
line before the candidate's import and before each case (a JSON case's ``go`` carries its
arguments: no case's input is in the sandbox before the case starts), so the host reads the
launch cgroup's CPU counter (``Launched.cpu``: every process of the launch, forked children
included) while the harness is blocked: a case's ``cpu_seconds`` is the counter's growth from
the previous report to its own, the first case of a launch counting from the harness's
``started`` report, so it also carries the candidate's import (module-level code of the program
and, for pytest-style problems, of the test module; the first case is released with the
import). ``seconds`` is the host's wall time from the ``ready`` (or previous) report.


Reports come through a private pipe, each line carrying a random per-launch nonce. The reports
are data only: JSON results and pytest observations are judged by the evaluator on the host.
Candidate output (stdout + stderr) goes to a host file capped by RLIMIT_FSIZE and is read back
truncated to ``max_output_bytes``; it is never parsed.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from coral_dagster.benchmark.harness import MAX_RESULT_BYTES
from coral_dagster.benchmark.problems import Problem
from coral_dagster.benchmark.sandbox import PYTHON_FLAGS, Sandbox

HARNESS_FILE = "_coral_harness.py"
SPEC_FILE = "_coral_spec.json"
MAX_LINE_BYTES = MAX_RESULT_BYTES + (64 << 10)
EXIT_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class CaseOutcome:
    """What happened to one test case: ``ok`` (JSON: ``result`` still to compare; pytest:
    ``observations`` still to judge), ``fail`` (the result is not comparable), ``error`` or
    ``timeout``; wall and CPU seconds measured by the host."""

    index: int
    status: str
    seconds: float
    result: str | None = None
    error_type: str | None = None
    detail: str = ""
    cpu_seconds: float = 0.0
    observations: str | None = None


@dataclass(frozen=True)
class Execution:
    outcomes: tuple[CaseOutcome, ...]
    output: str
    launches: int
    wall_seconds: float
    cpu_clock: str = ""


def _package_text(name: str) -> str:
    return resources.files("coral_dagster.benchmark").joinpath(name).read_text(encoding="utf-8")


def prepare_workdir(
    workdir: Path, problem: Problem, program: str, support_files: Mapping[str, str], inner: str
) -> None:
    """Write harness, spec, pytest shim, support modules, the program and the rewritten tests
    (no expected values; JSON arguments are released case by case) into ``workdir``."""
    files: dict[str, str] = {
        HARNESS_FILE: _package_text("harness.py"),
        "pytest.py": _package_text("pytest_shim.py"),
        "python_programs/__init__.py": "",
        f"python_programs/{problem.program}.py": program,
        "correct_python_programs/__init__.py": "",
    }
    for module, source in support_files.items():
        files[f"{module}.py"] = source
    spec: dict = {"problem": problem.program, "root": inner, "n": problem.n_tests}
    if problem.json_cases is not None:
        spec.update(mode="json")  # arguments travel with each case's go, expected values never
    else:
        files[f"test_{problem.program}.py"] = problem.rewritten_tests().source
        spec.update(
            mode="pytest",
            test_module=f"test_{problem.program}",
            tests=problem.pytest_test_ids,
            support=sorted(support_files),
        )
    files[SPEC_FILE] = json.dumps(spec)
    workdir.mkdir(parents=True, exist_ok=True)
    for relative, text in files.items():
        path = workdir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(0o644)
    for directory in [workdir, *[p for p in workdir.rglob("*") if p.is_dir()]]:
        directory.chmod(0o755)


class _LineReader:
    """Reads newline-terminated lines from a pipe with a deadline (``select``)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.buffer = b""
        self.eof = False

    def readline(self, deadline: float) -> bytes | None:
        """A line (with ``\\n``), ``b""`` at end of file, or None when ``deadline`` passes."""
        while True:
            cut = self.buffer.find(b"\n")
            if cut >= 0:
                line, self.buffer = self.buffer[: cut + 1], self.buffer[cut + 1 :]
                return line
            if len(self.buffer) > MAX_LINE_BYTES:
                line, self.buffer = self.buffer, b""
                return line  # no newline: the caller rejects it as malformed
            if self.eof:
                return b""
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                self.eof = True
            self.buffer += chunk


def _exit_text(returncode: int | None) -> str:
    if returncode is None:
        return "still running, killed"
    if returncode < 0:
        return f"killed by signal {-returncode}"
    if returncode > 128:
        return f"exit status {returncode} (signal {returncode - 128}?)"
    return f"exit status {returncode}"


class _Launch:
    """One sandboxed harness process running cases ``start..n-1``."""

    def __init__(
        self,
        sandbox: Sandbox,
        workdir: Path,
        cwd: Path,
        output_fd: int,
        start: int,
        arguments: list[str] | None,
        n: int,
    ):
        self.sandbox, self.start, self.n, self.arguments = sandbox, start, n, arguments
        cfg = sandbox.config
        inner = sandbox.inner_path(workdir)
        cmd_r, cmd_w = os.pipe()
        res_r, res_w = os.pipe()
        argv = [
            sandbox.python,
            *PYTHON_FLAGS,
            f"{inner}/{HARNESS_FILE}",
            f"{inner}/{SPEC_FILE}",
            str(cmd_r),
            str(res_w),
            str(start),
        ]
        cpu = cfg.cpu_seconds * (n - start) + math.ceil(cfg.startup_seconds)
        try:
            self.launched = sandbox.spawn(
                argv, workdir, cwd, output_fd=output_fd, pass_fds=(cmd_r, res_w), cpu_seconds=cpu
            )
        except BaseException:
            for fd in (cmd_r, cmd_w, res_r, res_w):
                os.close(fd)
            raise
        os.close(cmd_r)
        os.close(res_w)
        os.set_blocking(cmd_w, False)  # a harness that stops reading must not block the host
        self.cmd_w = cmd_w
        self.nonce = secrets.token_hex(16)
        self.reader = _LineReader(res_r)
        self.cpu_mark = 0.0

    def _send(self, line: str, deadline: float) -> bool:
        """Write one line to the harness before ``deadline``; False if it did not take it (it
        stopped reading, or is gone: the reader then sees the end or the deadline)."""
        view = memoryview((line + "\n").encode("utf-8"))
        while view:
            try:
                view = view[os.write(self.cmd_w, view) :]
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([], [self.cmd_w], [], remaining)[1]:
                    return False
            except BrokenPipeError:
                return False
        return True

    def _go(self, index: int, deadline: float) -> bool:
        """Release case ``index`` (with its arguments, for a JSON case)."""
        if self.arguments is None or index >= self.n:
            return self._send("go", deadline)
        return self._send("go " + self.arguments[index], deadline)

    def _cpu_since_mark(self) -> float:
        """CPU seconds of the launch's whole process tree since the last mark; new mark."""
        now = self.launched.cpu.seconds()
        spent, self.cpu_mark = max(0.0, now - self.cpu_mark), now
        return spent

    def _message(self, line: bytes) -> dict | None:
        try:
            message = json.loads(line)
        except (ValueError, RecursionError):
            return None
        if not isinstance(message, dict) or message.get("nonce") != self.nonce:
            return None
        return message

    def _died(self) -> str:
        try:
            returncode = self.launched.proc.wait(timeout=EXIT_GRACE_SECONDS)
        except subprocess.TimeoutExpired:  # still running: it closed the report channel
            returncode = None
        return _exit_text(returncode)

    def run(self, outcomes: dict[int, CaseOutcome]) -> int | None:
        """Record outcomes; return the index to relaunch from, or None when all are decided."""
        cfg = self.sandbox.config
        try:
            self._send(self.nonce, time.monotonic() + cfg.startup_seconds)
            return self._run(outcomes, cfg.timeout_seconds, cfg.startup_seconds)
        finally:
            os.close(self.cmd_w)
            self.launched.kill()
            os.close(self.reader.fd)

    def _all(
        self, outcomes: dict[int, CaseOutcome], status: str, error_type: str | None, detail: str
    ) -> None:
        """Decide every case of this launch at once (the import failed or never finished)."""
        for i in range(self.start, self.n):
            outcomes[i] = CaseOutcome(i, status, 0.0, None, error_type, detail)

    def _run(self, outcomes: dict[int, CaseOutcome], timeout: float, startup: float) -> int | None:
        index, phase = self.start, "start"  # start -> import -> cases
        last = time.monotonic()
        deadline = last + startup + timeout
        while True:
            line = self.reader.readline(deadline)
            now = time.monotonic()
            if line is None:  # deadline passed
                if phase != "cases":
                    self._all(
                        outcomes,
                        "timeout",
                        None,
                        f"import did not finish within {startup + timeout:g} s",
                    )
                    return None
                outcomes[index] = CaseOutcome(
                    index,
                    "timeout",
                    timeout,
                    None,
                    None,
                    f"no result within {timeout:g} s",
                    self._cpu_since_mark(),
                )
                return index + 1
            if line == b"":  # the process ended or closed the channel
                detail = f"sandbox process ended before reporting ({self._died()})"
                if phase != "cases":
                    self._all(outcomes, "error", "ProcessDied", detail)
                    return None
                outcomes[index] = CaseOutcome(
                    index, "error", now - last, None, "ProcessDied", detail, self._cpu_since_mark()
                )
                return index + 1
            spent = 0.0
            if phase == "cases" and index < self.n:
                # Any line ends the case's CPU window: read the counter and release the next
                # case before parsing (a forged line costs the launch anyway).
                spent = self._cpu_since_mark()
                self._go(index + 1, now + timeout)
            message = self._message(line)
            event = None if message is None else message.get("event")
            if message is not None and event == "started" and phase == "start":
                self._cpu_since_mark()
                phase = "import"
                # The import and the first case share one CPU window (the import is charged
                # to the first case), so the first case is released with the import.
                self._send("go", deadline)
                self._go(index, deadline)
            elif message is not None and event == "ready" and phase == "import":
                phase, last, deadline = "cases", now, now + timeout
            elif message is not None and event == "import_error" and phase != "cases":
                self._all(
                    outcomes,
                    "error",
                    str(message.get("error_type") or "ImportError"),
                    str(message.get("detail", ""))[:1000],
                )
                return None
            elif (
                message is not None
                and event == "case"
                and phase == "cases"
                and message.get("index") == index
            ):
                outcomes[index] = self._case(message, index, now - last, spent)
                index += 1
                last, deadline = now, now + timeout
            elif message is not None and event == "done" and phase == "cases" and index == self.n:
                return None
            else:
                detail = "malformed or forged report on the result channel"
                if phase != "cases":
                    self._all(outcomes, "error", "ProtocolViolation", detail)
                    return None
                outcomes[index] = CaseOutcome(
                    index, "error", now - last, None, "ProtocolViolation", detail, spent
                )
                return index + 1

    @staticmethod
    def _case(message: dict, index: int, seconds: float, cpu_seconds: float) -> CaseOutcome:
        """A case report as data: the status and the values to judge, nothing else trusted."""
        status = message.get("status")
        if status not in ("ok", "fail", "error"):
            return CaseOutcome(
                index, "error", seconds, None, "ProtocolViolation", f"bad status {status!r}"
            )
        result = message.get("result") if status == "ok" else None
        observations = message.get("observations") if status == "ok" else None
        error_type = message.get("error_type")
        return CaseOutcome(
            index,
            status,
            seconds,
            result if isinstance(result, str) else None,
            str(error_type) if error_type is not None else None,
            str(message.get("detail", ""))[:1000],
            cpu_seconds,
            observations if isinstance(observations, str) else None,
        )


def run_cases(
    sandbox: Sandbox, problem: Problem, program: str, support_files: Mapping[str, str]
) -> Execution:
    """Run every test case of ``problem`` against ``program`` in ``sandbox``."""
    started = time.perf_counter()
    n = problem.n_tests
    arguments = (
        None if problem.json_cases is None else [json.dumps(a) for a, _ in problem.json_cases]
    )
    outcomes: dict[int, CaseOutcome] = {}
    launches = 0
    tmp = Path(tempfile.mkdtemp(prefix="coral-eval-"))
    try:
        workdir, cwd = tmp / "work", tmp / "cwd"
        cwd.mkdir()
        prepare_workdir(workdir, problem, program, support_files, sandbox.inner_path(workdir))
        output_path = tmp / "output"
        output_fd = os.open(output_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            start: int | None = 0
            while start is not None and start < n:
                launches += 1
                launch = _Launch(sandbox, workdir, cwd, output_fd, start, arguments, n)
                start = launch.run(outcomes)
        finally:
            os.close(output_fd)
        with open(output_path, "rb") as f:
            output = f.read(sandbox.config.max_output_bytes).decode("utf-8", "replace")
    finally:
        shutil.rmtree(tmp)
    missing = [i for i in range(n) if i not in outcomes]
    if missing:
        raise RuntimeError(f"internal error: cases {missing} of {problem.name} got no outcome")
    return Execution(
        outcomes=tuple(outcomes[i] for i in range(n)),
        output=output,
        launches=launches,
        wall_seconds=time.perf_counter() - started,
        cpu_clock=sandbox.config.cpu_accounting,
    )
