"""Test harness that runs INSIDE the sandbox: imports one candidate and runs its test cases.

Standard library only; the evaluator copies this file into the sandbox work directory and
starts it as ``python -S -s -B harness.py SPEC CMD_FD RESULT_FD START``.

Protocol (host side: ``coral_dagster.benchmark.execution``):

1. The host writes a random nonce line to ``CMD_FD`` and closes it; the harness reads it and
   closes the fd before any candidate code runs. Every report line carries the nonce, so text
   the candidate writes elsewhere (stdout, guessed fds) without it is rejected by the host.
2. The harness imports the candidate (``python_programs.<name>``; for pytest-style problems
   the test module, which imports it), then writes ``{"event": "ready"}`` or
   ``{"event": "import_error", ...}`` to ``RESULT_FD``.
3. For each case from ``START`` on it writes one line ``{"event": "case", "index": i,
   "status": "ok"|"fail"|"error", "seconds": t, "cpu_seconds": c, ...}`` right after the case
   ends, then
   ``{"event": "done"}``, and leaves with ``os._exit(0)`` (no candidate ``atexit`` hooks).

JSON cases: only the arguments enter the sandbox. The result (generators and iterators drained
to a list, tuples turned into lists) must consist of exactly ``None``/``bool``/``int``/
``float``/``str``/``list``/``dict`` with string keys (subclasses are refused, so an object with
a forged ``__eq__`` cannot pass); it is sent back as JSON and compared on the host against the
expected value, which the sandbox never sees. pytest-style tests run here: a test passes when
it returns, fails on ``AssertionError`` and errors on anything else.

The per-case wall clock is enforced from outside by the host. ``seconds`` is
``time.perf_counter`` and ``cpu_seconds`` is ``time.process_time`` (CPU time of this process,
immune to other processes' load) around the call, for JSON cases including draining a
generator.
"""

import importlib
import json
import os
import sys
import time
import types
from collections.abc import Callable

MAX_RESULT_BYTES = 4 << 20
MAX_DETAIL_CHARS = 400


class NotComparable(Exception):
    """The candidate's result holds a value that is not plain JSON data."""


def _plain(value: object, depth: int = 0) -> object:
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float or kind is str:
        return value
    if depth > 200:
        raise NotComparable("result nested deeper than 200 levels")
    if kind is list or kind is tuple:
        return [_plain(v, depth + 1) for v in value]
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise NotComparable(f"dict key of type {type(key).__name__}")
            out[key] = _plain(item, depth + 1)
        return out
    raise NotComparable(f"value of type {kind.__name__}")


def _drain(value: object) -> object:
    """Generators and other iterators become lists (QuixBugs' flatten, kheapsort)."""
    kind = type(value)
    if kind in (list, tuple, dict, str, int, float, bool, type(None)):
        return value
    if isinstance(value, types.GeneratorType) or (
        hasattr(kind, "__next__") and hasattr(kind, "__iter__")
    ):
        return list(value)
    return value


def _describe(exc: BaseException) -> str:
    try:
        text = str(exc)
    except BaseException:
        text = "<unprintable>"
    return text[:MAX_DETAIL_CHARS]


def _json_outcome(result: object, dumps: Callable[..., str]) -> dict:
    """``ok`` with the result as JSON text, or ``fail`` when it is not plain, bounded data."""
    try:
        text = dumps(_plain(result), allow_nan=True)
    except (NotComparable, RecursionError, ValueError) as exc:
        return {"status": "fail", "detail": f"result not comparable: {_describe(exc)}"}
    if len(text) > MAX_RESULT_BYTES:
        return {"status": "fail", "detail": f"result larger than {MAX_RESULT_BYTES} bytes"}
    return {"status": "ok", "result": text}


def _run_test(module: types.ModuleType, test_id: str) -> None:
    """Call test ``name`` or ``name[i]`` (the i-th value of its parametrize) of ``module``."""
    test_name, _, param = test_id.partition("[")
    test = getattr(module, test_name)
    if not param:
        test()
        return
    argnames, values = test._coral_parametrize
    value = values[int(param[:-1])]
    kwargs = dict(zip(argnames, value, strict=True)) if len(argnames) > 1 else {argnames[0]: value}
    test(**kwargs)


def main() -> None:
    spec_path, cmd_fd, result_fd, start = sys.argv[1], *map(int, sys.argv[2:5])
    # Bind everything the reporting needs before the candidate can patch modules.
    write, dumps, loads, clock, cpu_clock, exit_now = (
        os.write,
        json.dumps,
        json.loads,
        time.perf_counter,
        time.process_time,
        os._exit,
    )
    assertion_error, base_exception = AssertionError, BaseException
    with open(spec_path, encoding="utf-8") as f:
        spec = loads(f.read())
    nonce = b""
    while not nonce.endswith(b"\n"):
        chunk = os.read(cmd_fd, 256)
        if not chunk:
            break
        nonce += chunk
    os.close(cmd_fd)
    nonce = nonce.strip().decode("ascii")
    sys.argv = [spec["problem"]]
    sys.path.insert(0, spec["root"])
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)

    def report(message: dict) -> None:
        message["nonce"] = nonce
        data = (dumps(message, allow_nan=True) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[write(result_fd, view) :]

    name = spec["problem"]
    try:
        if spec["mode"] == "json":
            module = importlib.import_module(f"python_programs.{name}")
            function = getattr(module, name, None)
            if not callable(function):
                report(
                    {
                        "event": "import_error",
                        "error_type": "MissingFunction",
                        "detail": f"the program defines no function {name}",
                    }
                )
                exit_now(0)
        else:
            module = importlib.import_module(spec["test_module"])
    except BaseException as exc:
        report(
            {"event": "import_error", "error_type": type(exc).__name__, "detail": _describe(exc)}
        )
        exit_now(0)
    report({"event": "ready"})

    cases = spec["cases"] if spec["mode"] == "json" else spec["tests"]
    for index in range(start, len(cases)):
        message = {"event": "case", "index": index}
        began, began_cpu = clock(), cpu_clock()
        result = None
        try:
            if spec["mode"] == "json":
                result = _drain(function(*loads(cases[index])))
            else:
                _run_test(module, cases[index])
            message["status"] = "ok"
        except assertion_error as exc:
            status = "error" if spec["mode"] == "json" else "fail"
            message.update(status=status, error_type="AssertionError", detail=_describe(exc))
        except base_exception as exc:
            message.update(status="error", error_type=type(exc).__name__, detail=_describe(exc))
        message.update(seconds=clock() - began, cpu_seconds=cpu_clock() - began_cpu)
        if message["status"] == "ok" and spec["mode"] == "json":
            message.update(_json_outcome(result, dumps))
        report(message)
    report({"event": "done"})
    exit_now(0)


if __name__ == "__main__":
    main()
