"""Hostile candidates score zero, the evaluator carries on and the host stays unchanged.

Most hostile programs return the right answer only if their attack worked, so a test that
passes would expose a hole; every one must end with bugfix 0. The evaluator uses the default
``bwrap`` backend with short timeouts and its own uid range (checked for leftover processes).
"""

from __future__ import annotations

import ast
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmark_helpers import Spec, fast_config, lines, write_dataset

from coral_dagster.benchmark.evaluator import CandidateResult, Evaluator
from coral_dagster.benchmark.problems import load_problem_set
from coral_dagster.benchmark.sandbox import UID_POOL

SECRET = "coral-test-secret-8c1f0e"
UID_BASE = 63000
CORRECT = "def answer(x):\n    return 2 * x\n"
CHECK_TESTS = (
    "import pytest\n"
    "if pytest.use_correct:\n"
    "    from correct_python_programs.check import check\n"
    "else:\n"
    "    from python_programs.check import check\n"
    "\n"
    "def test_one():\n"
    "    assert check(1) == 2\n"
    "\n"
    "def test_two():\n"
    "    assert check(2) == 4\n"
)


def _sandbox_processes() -> list[int]:
    """Host pids whose real uid is in this module's sandbox uid range."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        uid_line = next((ln for ln in status.splitlines() if ln.startswith("Uid:")), "")
        uid = int(uid_line.split()[1]) if uid_line else -1
        if UID_BASE <= uid < UID_BASE + UID_POOL:
            pids.append(int(entry.name))
    return pids


def _no_sandbox_processes_left(timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while _sandbox_processes():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Evaluator]:
    root = tmp_path_factory.mktemp("hostile")
    problems = {
        "answer": Spec(CORRECT, CORRECT, lines(([1], 2), ([2], 4))),
        "leak": Spec(
            "def leak():\n    return ''\n",
            f"def leak():\n    return {SECRET!r}\n",
            lines(([], SECRET)),
        ),
        "check": Spec(
            "def check(x):\n    return x\n",
            "def check(x):\n    return 2 * x\n",
            pytest_source=CHECK_TESTS,
        ),
    }
    problem_set = load_problem_set(write_dataset(root, problems))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CORAL_TEST_SECRET", SECRET)
        evaluator = Evaluator(
            problem_set,
            fast_config(timeout_seconds=0.5, startup_seconds=2.0, uid_base=UID_BASE, memory_mb=256),
        )
        yield evaluator


def _scores_zero(result: CandidateResult) -> None:
    assert result.passed == 0, [t.to_dict() for t in result.tests]
    assert result.objectives["bugfix"] == 0.0
    assert result.objectives["runtime"] == 0.0


def _still_works(evaluator: Evaluator) -> None:
    result = evaluator.evaluate("answer", CORRECT)
    assert result.passed == result.total == 2


def test_infinite_loop_times_out(hostile: Evaluator) -> None:
    result = hostile.evaluate("answer", "def answer(x):\n    while True:\n        pass\n")
    _scores_zero(result)
    assert [t.verdict for t in result.tests] == ["timeout", "timeout"]
    assert _no_sandbox_processes_left()
    _still_works(hostile)


def test_infinite_loop_at_import_times_out(hostile: Evaluator) -> None:
    result = hostile.evaluate(
        "answer", "while True:\n    pass\n\ndef answer(x):\n    return 2 * x\n"
    )
    _scores_zero(result)
    assert [t.verdict for t in result.tests] == ["timeout", "timeout"]


def test_deep_recursion_is_an_error(hostile: Evaluator) -> None:
    result = hostile.evaluate("answer", "def answer(x):\n    return answer(x + 1)\n")
    _scores_zero(result)
    assert {t.error_type for t in result.tests} == {"RecursionError"}
    crash = (
        "import sys\nsys.setrecursionlimit(10 ** 8)\ndef answer(x):\n    return answer(x + 1) + 1\n"
    )
    result = hostile.evaluate("answer", crash)
    _scores_zero(result)
    assert {t.verdict for t in result.tests} <= {"error", "timeout"}
    _still_works(hostile)


def test_fork_bomb_is_contained_and_cleaned_up(hostile: Evaluator) -> None:
    count_forks = (
        "import os, time\n"
        "def answer(x):\n"
        "    children = 0\n"
        "    for _ in range(200):\n"
        "        try:\n"
        "            pid = os.fork()\n"
        "        except OSError:\n"
        "            break\n"
        "        if pid == 0:\n"
        "            time.sleep(30)\n"
        "            os._exit(0)\n"
        "        children += 1\n"
        "    return 2 * x if children >= 100 else -children\n"
    )
    result = hostile.evaluate("answer", count_forks)
    _scores_zero(result)
    limit = hostile.config.max_processes
    assert all(t.verdict == "fail" for t in result.tests)
    forked = [-int(t.detail.split("got ")[1]) for t in result.tests]
    assert 0 < forked[0] < limit and 0 <= forked[1] < limit, forked  # case 1's children live on
    bomb = (
        "import os\n"
        "def answer(x):\n"
        "    while True:\n"
        "        try:\n"
        "            os.fork()\n"
        "        except OSError:\n"
        "            pass\n"
    )
    result = hostile.evaluate("answer", bomb)
    _scores_zero(result)
    assert _no_sandbox_processes_left()
    _still_works(hostile)


def test_memory_bomb_is_stopped_by_the_address_space_limit(hostile: Evaluator) -> None:
    grab = (
        "def answer(x):\n"
        "    try:\n"
        "        block = bytearray(1 << 30)\n"
        "    except MemoryError:\n"
        "        return -1\n"
        "    return 2 * x + 0 * len(block)\n"
    )
    _scores_zero(hostile.evaluate("answer", grab))
    grow = "def answer(x):\n    hog = []\n    while True:\n        hog.append(' ' * (1 << 20))\n"
    result = hostile.evaluate("answer", grow)
    _scores_zero(result)
    assert {t.error_type for t in result.tests} == {"MemoryError"}
    _still_works(hostile)


def test_files_outside_the_private_tmp_cannot_be_touched(
    hostile: Evaluator, tmp_path: Path
) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("alive")
    before = sorted(p.name for p in tmp_path.iterdir())
    attack = f"""import os, shutil
TARGETS = [{str(canary)!r}, {str(tmp_path / "new.txt")!r}, "/usr/coral-evil",
           "/sandbox/python_programs/answer.py", "/sandbox/evil", "/coral-evil", "/etc/passwd"]


def answer(x):
    won = False
    for path in TARGETS:
        try:
            with open(path, "w") as f:
                f.write("pwned")
            won = True
        except OSError:
            pass
        try:
            os.remove(path)
            won = True
        except OSError:
            pass
    try:
        shutil.rmtree({str(tmp_path)!r})
        won = True
    except OSError:
        pass
    with open("/tmp/scratch.txt", "w") as f:  # the private tmpfs is writable
        f.write("ok")
    return 2 * x if won else -x
"""
    result = hostile.evaluate("answer", attack)
    _scores_zero(result)
    assert [t.verdict for t in result.tests] == ["fail", "fail"]  # ran, but every attack failed
    assert canary.read_text() == "alive"
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not Path("/usr/coral-evil").exists() and not Path("/coral-evil").exists()


def test_network_is_unreachable(hostile: Evaluator) -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.setblocking(False)
        port = server.getsockname()[1]
        attack = f"""import socket


def answer(x):
    for host, port in (("127.0.0.1", {port}), ("1.1.1.1", 53), ("8.8.8.8", 443)):
        try:
            socket.create_connection((host, port), timeout=0.2).close()
            return 2 * x
        except OSError:
            pass
    return -x
"""
        result = hostile.evaluate("answer", attack)
        _scores_zero(result)
        assert [t.verdict for t in result.tests] == ["fail", "fail"]
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected


def test_environment_secrets_are_not_visible(hostile: Evaluator) -> None:
    attack = """import os


def leak():
    found = os.environ.get("CORAL_TEST_SECRET", "")
    if found:
        return found
    for pid in os.listdir("/proc"):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                for item in f.read().split(b"\\0"):
                    if item.startswith(b"CORAL_TEST_SECRET="):
                        return item.split(b"=", 1)[1].decode()
        except OSError:
            pass
    return sorted(os.environ)
"""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CORAL_TEST_SECRET", SECRET)
        result = hostile.evaluate("leak", attack)
    _scores_zero(result)
    got = result.tests[0].detail.split("got ", 1)[1]
    assert SECRET not in got and SECRET not in result.output
    visible = ast.literal_eval(got)
    assert set(visible) <= {
        "PATH", "HOME", "LANG", "PWD", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE",
        "PYTHONIOENCODING",
    }  # fmt: skip


def test_exit_calls_are_errors_and_later_cases_still_run(hostile: Evaluator) -> None:
    result = hostile.evaluate("answer", "import sys\n\ndef answer(x):\n    sys.exit(0)\n")
    _scores_zero(result)
    assert {t.error_type for t in result.tests} == {"SystemExit"}
    partial = "import os\n\ndef answer(x):\n    if x == 1:\n        os._exit(0)\n    return -x\n"
    result = hostile.evaluate("answer", partial)
    _scores_zero(result)
    assert [t.verdict for t in result.tests] == ["error", "fail"]  # relaunched for case 2
    assert result.tests[0].error_type == "ProcessDied"
    at_import = "import os\nos._exit(3)\n\ndef answer(x):\n    return 2 * x\n"
    result = hostile.evaluate("answer", at_import)
    _scores_zero(result)
    assert {t.error_type for t in result.tests} == {"ProcessDied"}


def test_killing_the_parent_or_everything_harms_nobody(hostile: Evaluator) -> None:
    me = os.getpid()
    head = "import os, signal\n\ndef answer(x):\n    "
    attacks = [
        head + "os.kill(os.getppid(), signal.SIGKILL)\n    return -x\n",
        head + "os.killpg(os.getpgid(0), signal.SIGKILL)\n    return 2 * x\n",
        head + f"os.kill({me}, signal.SIGKILL)\n    return -x\n",
        head + "os.kill(-1, signal.SIGKILL)\n    return -x\n",
        head + "os.kill(1, signal.SIGKILL)\n    return -x\n",
    ]
    for result in hostile.evaluate_many([("answer", a) for a in attacks]):
        _scores_zero(result)
    assert os.getpid() == me
    _still_works(hostile)


def test_flooding_stdout_is_capped(hostile: Evaluator) -> None:
    flood = "def answer(x):\n    while True:\n        print('x' * 4096)\n"
    result = hostile.evaluate("answer", flood)
    _scores_zero(result)
    assert 0 < len(result.output.encode()) <= hostile.config.max_output_bytes
    assert {t.verdict for t in result.tests} <= {"error", "timeout"}


def test_missing_function_and_syntax_error_score_zero(hostile: Evaluator) -> None:
    missing = hostile.evaluate("answer", "def reply(x):\n    return 2 * x\n")
    _scores_zero(missing)
    assert missing.objectives["syntax"] == 0.0
    broken = hostile.evaluate("answer", "def answer(x) return 2 * x\n")
    assert broken.objectives == {o: 0.0 for o in broken.objectives}


def test_forged_reports_and_patched_modules_do_not_pass(hostile: Evaluator) -> None:
    forge = """import json, os
for fd in range(3, 64):
    for event in ('{"event": "ready"}', '{"event": "case", "index": 0, "status": "ok"}',
                  '{"event": "case", "index": 1, "status": "ok"}', '{"event": "done"}'):
        try:
            os.write(fd, (event + "\\n").encode())
        except OSError:
            pass
os._exit(0)


def check(x):
    return x
"""
    result = hostile.evaluate("check", forge)
    _scores_zero(result)
    assert {t.error_type for t in result.tests} <= {"ProtocolViolation", "ProcessDied"}
    patch = """import builtins, json, os
json.dumps = lambda *a, **k: '{"event": "case", "status": "ok"}'
os.write = lambda fd, data: len(data)
builtins.AssertionError = type("Nope", (Exception,), {})


def check(x):
    return x
"""
    result = hostile.evaluate("check", patch)
    _scores_zero(result)
    assert [t.verdict for t in result.tests] == ["fail", "fail"]
    close_channel = "import os\n\ndef answer(x):\n    os.closerange(0, 64)\n    return 2 * x\n"
    result = hostile.evaluate("answer", close_channel)
    _scores_zero(result)
    _still_works(hostile)
