"""Hostile candidates score zero, the evaluator carries on and the host stays unchanged.

Most hostile programs return the right answer only if their attack worked, so a test that
passes would expose a hole; every one must end with bugfix 0. The evaluator uses the default
``bwrap`` backend with short timeouts and its own uid range (checked for leftover processes).
"""

from __future__ import annotations

import ast
import os
import socket
import sys
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
FUTURE_MARKERS = ("alpha-7f3e", "beta-91cd", "gamma-d04a")
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
        "future": Spec(
            "def future(marker):\n    return [marker]\n",
            "def future(marker):\n    return []\n",
            lines(*(([m], []) for m in FUTURE_MARKERS)),
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


# -- issue 10: forged verdicts, forged runtime, namespaces, visible data, uid bounds ---------

BUNDLED_UID_BASE = 67000
ALWAYS_EQUAL = """class Anything:
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    def __bool__(self):
        return True

    __hash__ = object.__hash__


def {name}(*args):
    return Anything()
"""


@pytest.fixture(scope="module")
def bundled_hostile() -> Evaluator:
    """The bundled problems the attacks of issue 10 were reported on (Node-based pytest tests)."""
    names = ["course_schedule_order", "cycle_start_value", "int_to_roman", "tree_depth"]
    problem_set = load_problem_set("bundled").subset(names)
    config = fast_config(timeout_seconds=1.0, startup_seconds=3.0, uid_base=BUNDLED_UID_BASE)
    return Evaluator(problem_set, config)


def test_always_equal_objects_do_not_pass_pytest_style_tests(
    bundled_hostile: Evaluator, hostile: Evaluator
) -> None:
    """An object whose ``__eq__`` is always true passed tree_depth 6/6 and
    course_schedule_order 5/7 while asserts ran next to the candidate."""
    for name in ("tree_depth", "course_schedule_order"):
        result = bundled_hostile.evaluate(name, ALWAYS_EQUAL.format(name=name))
        _scores_zero(result)
        assert {t.verdict for t in result.tests} == {"fail"}, name
        assert "not comparable" in result.tests[0].detail
    result = hostile.evaluate("check", ALWAYS_EQUAL.format(name="check"))
    _scores_zero(result)
    correct = bundled_hostile.problem_set.problems["tree_depth"].correct_source
    assert bundled_hostile.evaluate("tree_depth", correct).passed == 6


def test_patched_harness_globals_do_not_pass(bundled_hostile: Evaluator) -> None:
    """``sys.modules["__main__"]._run_test = lambda *a: None`` at import passed
    cycle_start_value 8/8: the tests never ran, yet each reported ok."""
    attack = (
        "import sys\n"
        "sys.modules['__main__']._run_test = lambda *args: None\n"
        "\n"
        "def cycle_start_value(head):\n"
        "    return None\n"
    )
    result = bundled_hostile.evaluate("cycle_start_value", attack)
    _scores_zero(result)
    assert all("correct program" in t.detail for t in result.tests)


FRAME_WALK = """import os, sys

frame = sys._getframe()
while frame is not None and "report" not in frame.f_locals:
    frame = frame.f_back
report, spec = frame.f_locals["report"], frame.f_locals["spec"]
cases = spec.get("cases") or spec.get("tests") or range(spec["n"])
report({{"event": "ready"}})
for index in range(len(cases)):
    report({{"event": "case", "index": index, "status": "ok", "result": "2",
             "observations": "[]", "seconds": 0.0, "cpu_seconds": 0.0}})
report({{"event": "done"}})
os._exit(0)


def {name}(*args):
    return None
"""


def test_reports_forged_from_the_harness_frames_do_not_pass(
    hostile: Evaluator, bundled_hostile: Evaluator
) -> None:
    """Candidate code at import walks up to the harness's frame, takes its report function
    (nonce included) and claims every case passed."""
    for evaluator, name in ((hostile, "check"), (bundled_hostile, "tree_depth")):
        result = evaluator.evaluate(name, FRAME_WALK.format(name=name))
        _scores_zero(result)
        assert {t.verdict for t in result.tests} == {"fail"}, [t.to_dict() for t in result.tests]
    result = hostile.evaluate("answer", FRAME_WALK.format(name="answer"))
    assert [t.verdict for t in result.tests] == ["pass", "fail"]  # guessed "2" is right once


BUSY = "    total = 0\n    for i in range(600_000):\n        total += i\n"
FORKED_WORK = """import os


def answer(x):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        total = 0
        for i in range(600_000):
            total += i
        os.write(write, b"%d" % (2 * x))
        os._exit(0)
    os.close(write)
    value = int(os.read(read, 64))
    os.waitpid(pid, 0)
    os.close(read)
    return value
"""
REWRITTEN_REPORTS = (
    "import sys\n\nframe = sys._getframe()\n"
    "while 'report' not in frame.f_locals:\n    frame = frame.f_back\n"
    "report = frame.f_locals['report']\n"
    "cells = dict(zip(report.__code__.co_freevars, report.__closure__))\n"
    "real = cells['dumps'].cell_contents\n\n\n"
    "def fake(message, **kwargs):\n"
    "    if isinstance(message, dict) and 'index' in message:\n"
    "        message.update(cpu_seconds=0.0, seconds=0.0)\n"
    "    return real(message, **kwargs)\n\n\n"
    "cells['dumps'].cell_contents = fake\n\n\n"
    "def answer(x):\n" + BUSY + "    return 2 * x\n"
)


def test_cpu_time_of_forked_children_and_rewritten_reports_is_counted(
    hostile: Evaluator,
) -> None:
    """Runtime is measured by the host over the sandbox's whole process tree: work done in a
    forked child counts (process_time in the sandbox scored it 1.0), and rewriting the CPU
    figure in the harness's reports changes nothing."""
    for attack in (FORKED_WORK, REWRITTEN_REPORTS):
        result = hostile.evaluate("answer", attack)
        assert result.passed == result.total == 2, [t.to_dict() for t in result.tests]
        assert result.objectives["runtime"] < 0.5, result.objectives
        assert all(t.cpu_seconds >= 0.01 for t in result.tests), [t.to_dict() for t in result.tests]
        assert {t.cpu_clock for t in result.tests} == {hostile.config.cpu_accounting}


USERNS_TMPFS = """import ctypes, os

CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000


def answer(x):
    libc = ctypes.CDLL(None, use_errno=True)
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0:
        return -ctypes.get_errno()
    for path, text in (("setgroups", "deny"), ("uid_map", f"0 {uid} 1"), ("gid_map", f"0 {gid} 1")):
        with open(f"/proc/self/{path}", "w") as f:
            f.write(text)
    if libc.mount(b"none", b"/tmp", b"tmpfs", 0, None) != 0:
        return -1000 - ctypes.get_errno()
    chunk = b"x" * (4 << 20)
    for i in range(20):  # 80 MiB: more than the 64 MiB of the sandbox's own /tmp
        with open(f"/tmp/fill{i}", "wb") as f:
            f.write(chunk)
    return 2 * x
"""


def test_user_namespaces_and_mounts_are_refused(hostile: Evaluator) -> None:
    """A candidate unshared a user + mount namespace, mounted an unsized tmpfs over /tmp and
    wrote past the tmpfs cap (host RAM); the seccomp filter refuses unshare with EPERM."""
    result = hostile.evaluate("answer", USERNS_TMPFS)
    _scores_zero(result)
    assert [t.detail for t in result.tests] == ["expected 2, got -1", "expected 4, got -1"]


PROBE_FILE = "int_to_roman.json"
LOOKUP = """import glob, json, sys, sysconfig

PLACES = [sysconfig.get_paths()["purelib"], "/usr/local/lib/python3*/*-packages",
          "/usr/lib/python3*/*-packages"]


def int_to_roman(number):
    for place in PLACES:
        for path in glob.glob(place + "/{package}/json_testcases/int_to_roman.json"):
            with open(path) as f:
                table = {{args[0]: expected for args, expected in map(json.loads, f)}}
            return table.get(number, "")
    return ""
"""


def _install_places() -> list[Path]:
    """Where ``pip install .`` puts package data: the interpreter's purelib and, as in the
    Kubernetes image (python:3.11-slim), /usr/local/lib/python3.X/site- or dist-packages."""
    import sysconfig

    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    places = [Path(sysconfig.get_paths()["purelib"])]
    places += [
        Path(f"/usr/local/lib/{version}/{kind}") for kind in ("site-packages", "dist-packages")
    ]
    return [p for p in places if p.is_dir() and os.access(p, os.W_OK)]


@pytest.fixture
def installed_data() -> Iterator[str]:
    """The bundled test data installed as package data next to the interpreter, under a
    uniquely named package directory in every install place (removed afterwards)."""
    import shutil

    from coral_dagster.benchmark.problems import BUNDLED_DATASET

    places = _install_places()
    if not places:
        pytest.skip("no writable site-packages to install the probe data into")
    package = f"coral_hostile_probe_{os.getpid()}"
    try:
        for place in places:
            target = place / package / "json_testcases"
            target.mkdir(parents=True)
            shutil.copy(BUNDLED_DATASET / "json_testcases" / PROBE_FILE, target / PROBE_FILE)
        yield package
    finally:
        for place in places:
            shutil.rmtree(place / package, ignore_errors=True)


def test_installed_benchmark_data_is_not_visible(
    bundled_hostile: Evaluator, installed_data: str
) -> None:
    """A lookup-table "program" that reads the installed expected outputs scored 9/9."""
    result = bundled_hostile.evaluate("int_to_roman", LOOKUP.format(package=installed_data))
    _scores_zero(result)


WALK = """import os, sys
found = []
for top, dirs, files in os.walk("/"):
    if top == "/":
        dirs[:] = [d for d in dirs if d not in ("proc", "sys", "dev")]
    for name in dirs + files:
        path = os.path.join(top, name)
        if name in NAMES or name.startswith("coral"):
            found.append(path)
        if name in ("site-packages", "dist-packages") and os.listdir(path):
            found.append(path + "/ (not empty)")
print(repr(sorted(found)))
"""


def test_whole_visible_filesystem_holds_no_package_data_or_project(
    installed_data: str, tmp_path: Path
) -> None:
    """Search everything the sandbox can see for benchmark file names, the project package and
    non-empty package directories: only the work directory may hold candidate-related files."""
    from coral_dagster.benchmark.problems import BUNDLED_DATASET
    from coral_dagster.benchmark.sandbox import PYTHON_FLAGS, make_sandbox

    names = {p.name for p in BUNDLED_DATASET.rglob("*") if p.is_file()} - {"__init__.py"}
    names |= {"coral_dagster", "coral_bugs", "json_testcases", "python_testcases"}
    sandbox = make_sandbox(fast_config(uid_base=UID_BASE, max_output_bytes=1 << 20))
    workdir = tmp_path / "work"
    workdir.mkdir()
    workdir.chmod(0o755)
    code = f"NAMES = {sorted(names)!r}\n" + WALK
    run = sandbox.run([sandbox.python, *PYTHON_FLAGS, "-c", code], workdir, timeout=300)
    assert run.returncode == 0, run.output[-2000:]
    found = ast.literal_eval(run.output.strip().splitlines()[-1])
    assert found == [], found[:20]


def test_uid_base_near_the_top_of_the_uid_space_is_refused(hostile: Evaluator) -> None:
    """uid_base 4294967294 made the second sandbox uid (uid_t)-1, which setresuid reads as
    "unchanged": the candidate ran as root without a process limit."""
    from pydantic import ValidationError

    from coral_dagster.domain.config import SandboxConfig

    for uid_base in (4294967294, 2**32 - UID_POOL, 0, 999, 65000):
        with pytest.raises(ValidationError, match="uid_base"):
            SandboxConfig(uid_base=uid_base)
    top = 2**32 - 1 - UID_POOL  # the last sandbox uid is 2**32 - 2
    problem_set = hostile.problem_set.subset(["answer"])
    evaluator = Evaluator(problem_set, fast_config(uid_base=top))
    whoami = "import os\n\ndef answer(x):\n    return os.getuid()\n"
    result = evaluator.evaluate("answer", whoami)
    uids = [int(t.detail.split("got ")[1]) for t in result.tests]
    assert all(top <= uid <= 2**32 - 2 for uid in uids), uids


SNOOP_SPEC = """import os

WANTED = [a + "-" + b for a, b in (("alpha", "7f3e"), ("beta", "91cd"), ("gamma", "d04a"))]


def future(marker):
    text = ""
    for top, _, files in os.walk("/sandbox"):
        for name in files:
            with open(os.path.join(top, name), errors="replace") as f:
                text += f.read()
    return [w for w in WANTED if w in text]
"""


def test_later_cases_arguments_are_not_in_the_sandbox(hostile: Evaluator) -> None:
    """A JSON case's arguments arrive with its go: a candidate cannot read the next cases'
    inputs (and compute them, unmeasured, while a case it gives up on runs)."""
    result = hostile.evaluate("future", SNOOP_SPEC)
    assert result.passed == result.total == 3, [t.detail for t in result.tests]
