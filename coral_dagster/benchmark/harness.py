"""Test harness that runs INSIDE the sandbox: loads one candidate and runs its test cases.

Standard library only; the evaluator copies this file into the sandbox work directory and
starts it as ``python -S -s -B harness.py SPEC CMD_FD RESULT_FD START``.

Nothing computed here is trusted. The candidate's code shares this process: it can walk the
stack, read the nonce, patch every function and write any report it likes. The host therefore
takes only plain values from here (JSON results, serialised observations) and judges them
itself; it measures time and CPU from outside. What this file guarantees is fidelity for honest
candidates, not security.

Protocol (host side: ``coral_dagster.benchmark.execution``):

1. The host writes a random nonce line to ``CMD_FD``. Every report line carries it (text the
   candidate prints to stdout is not a report).
2. The harness imports what is not candidate code (the pytest shim, support modules), compiles
   the candidate (and the test module), reports ``started`` and waits for a ``go`` line on
   ``CMD_FD``: the host reads the launch's CPU counter while the harness is blocked.
3. It executes the candidate module (for pytest-style problems then the test module) and
   reports ``ready`` or ``import_error`` (the first case's ``go`` came with the import's).
4. For each case from ``START`` on: wait for ``go`` (for a JSON case ``go <arguments>``: the
   host releases each case's arguments only when the case starts, so no later case can be
   computed ahead), run the case, report
   ``{"event": "case", "index": i, "status": "ok"|"fail"|"error", ...}``. Then ``done`` and
   ``os._exit(0)`` (no candidate ``atexit`` hooks).

JSON cases: only the arguments enter the sandbox, one case at a time. The result (generators
and iterators drained to a list, tuples turned into lists) must consist of exactly
``None``/``bool``/``int``/ ``float``/``str``/``list``/``dict`` with string keys; it is sent
back as JSON text and compared on the host with the expected value, which the sandbox never
sees.


pytest-style tests arrive rewritten by the host (``pytest_rewrite``): every ``assert`` became
``_coral_observe(check_id, value, ...)`` and every ``pytest.raises`` block
``_coral_raises(check_id)``. Each observed value is serialised at once (``encode``) into a
tagged, exact form: ``None``/``bool``/``int``/``str`` as themselves, floats as ``{"f": repr}``,
``{"l"|"t"|"s"|"fs": [...]}`` for list/tuple/set/frozenset, ``{"d": [[k, v], ...]}`` for
dict (and ``defaultdict``/``OrderedDict``/``Counter``), ``{"o": [class, n]}`` for an object of
a support module's class (n numbers the objects of the test in order of first observation: an
identity, as ``==`` on such objects is), ``{"x": reason}`` for anything else (not comparable).
A test reports ``ok`` with its observations when it returns, ``error`` when it raises.
"""

import collections
import importlib
import importlib.machinery
import json
import os
import sys
import types
from collections.abc import Callable

MAX_RESULT_BYTES = 4 << 20
MAX_DETAIL_CHARS = 400
MAX_DEPTH = 200
DICT_TYPES = (dict, collections.defaultdict, collections.OrderedDict, collections.Counter)


class NotComparable(Exception):
    """The candidate's value is not plain data the host can compare."""


def _plain(value: object, depth: int = 0) -> object:
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float or kind is str:
        return value
    if depth > MAX_DEPTH:
        raise NotComparable(f"result nested deeper than {MAX_DEPTH} levels")
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


class Encoder:
    """Serialises one test's observed values; support objects are numbered by identity."""

    def __init__(self, support: tuple[type, ...]):
        self.support = support
        self.ids: dict[int, int] = {}
        self.keep: list[object] = []  # keeps numbered objects alive: ids stay unique

    def encode(self, value: object, depth: int = 0, unordered: bool = False) -> object:
        kind = type(value)
        if value is None or kind is bool or kind is int or kind is str:
            return value
        if kind is float:
            return {"f": repr(value)}
        if depth > MAX_DEPTH:
            raise NotComparable(f"value nested deeper than {MAX_DEPTH} levels")
        inner = depth + 1
        if kind is list or kind is tuple:
            tag = "l" if kind is list else "t"
            return {tag: [self.encode(v, inner, unordered) for v in value]}
        if kind is set or kind is frozenset:
            tag = "s" if kind is set else "fs"
            return {tag: [self.encode(v, inner, True) for v in value]}
        if kind in DICT_TYPES:
            return {
                "d": [
                    [self.encode(k, inner, True), self.encode(v, inner, unordered)]
                    for k, v in dict.items(value)
                ]
            }
        if kind in self.support:
            number = self.ids.get(id(value))
            if number is None:
                if unordered:
                    raise NotComparable(
                        f"a {kind.__name__} first seen inside a set or as a dict key has no "
                        "deterministic identity"
                    )
                number = self.ids[id(value)] = len(self.ids)
                self.keep.append(value)
            return {"o": [kind.__name__, number]}
        raise NotComparable(f"value of type {kind.__name__}")


def _import_error(exc: BaseException) -> dict:
    return {"event": "import_error", "error_type": type(exc).__name__, "detail": _describe(exc)}


def _load(name: str, path: str, code: object, package: str | None) -> types.ModuleType:
    """Execute pre-compiled ``code`` as module ``name`` (registered in ``sys.modules``)."""
    module = types.ModuleType(name)
    module.__file__ = path
    module.__package__ = package or ""
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, origin=path)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    if package:
        setattr(sys.modules[package], name.rpartition(".")[2], module)
    return module


def _run_test(module: types.ModuleType, test_id: str) -> None:
    """Call test ``name`` or ``name[i]`` (the i-th value of its parametrize) of ``module``."""
    test_name, _, param = test_id.partition("[")
    test = getattr(module, test_name)
    params = getattr(test, "_coral_parametrize", None)
    if not param or params is None:
        test()
        return
    argnames, values = params
    value = values[int(param[:-1])]
    kwargs = dict(zip(argnames, value, strict=True)) if len(argnames) > 1 else {argnames[0]: value}
    test(**kwargs)


def main() -> None:
    spec_path, cmd_fd, result_fd, start = sys.argv[1], *map(int, sys.argv[2:5])
    write, read, dumps, loads, exit_now = os.write, os.read, json.dumps, json.loads, os._exit
    with open(spec_path, encoding="utf-8") as f:
        spec = loads(f.read())
    pending = b""

    def read_line() -> str:
        nonlocal pending
        while b"\n" not in pending:
            chunk = read(cmd_fd, 1 << 16)
            if not chunk:
                exit_now(0)  # the host is gone
            pending += chunk
        line, _, pending = pending.partition(b"\n")
        return line.decode("utf-8")

    nonce = read_line().strip()

    def report(message: dict) -> None:
        message["nonce"] = nonce
        data = (dumps(message, allow_nan=True) + "\n").encode("utf-8")
        view = memoryview(data)
        while view:
            view = view[write(result_fd, view) :]

    name, root, mode = spec["problem"], spec["root"], spec["mode"]
    sys.argv = [name]
    sys.path.insert(0, root)
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(0)

    # Not candidate code: imported and compiled before the host starts counting.
    importlib.import_module("python_programs")
    support: tuple[type, ...] = ()
    shim = None
    units = [(f"python_programs.{name}", f"{root}/python_programs/{name}.py", "python_programs")]
    if mode == "pytest":
        shim = importlib.import_module("pytest")
        for module_name in spec["support"]:
            module = importlib.import_module(module_name)
            support += tuple(
                v
                for v in vars(module).values()
                if isinstance(v, type) and v.__module__ == module_name
            )
        units.append((spec["test_module"], f"{root}/{spec['test_module']}.py", None))
    compiled = []
    try:
        for unit_name, path, package in units:
            with open(path, encoding="utf-8") as f:
                compiled.append((unit_name, path, compile(f.read(), path, "exec"), package))
    except BaseException as exc:
        report(_import_error(exc))
        exit_now(0)
    report({"event": "started"})
    read_line()

    try:
        modules = [_load(n, p, c, pkg) for n, p, c, pkg in compiled]
        function = getattr(modules[0], name, None)
        if mode == "json" and not callable(function):
            report(
                {
                    "event": "import_error",
                    "error_type": "MissingFunction",
                    "detail": f"the program defines no function {name}",
                }
            )
            exit_now(0)
    except BaseException as exc:
        report(_import_error(exc))
        exit_now(0)
    report({"event": "ready"})

    tests = spec["tests"] if mode == "pytest" else None
    for index in range(start, spec["n"]):
        go = read_line()  # "go" (pytest) or "go <JSON arguments>": released case by case
        message: dict = {"event": "case", "index": index}
        records: list = []
        if shim is not None:
            encoder = Encoder(support)

            def sink(
                check_id: int, values: tuple, encoder: Encoder = encoder, records: list = records
            ) -> None:
                encoded = []
                for value in values:
                    try:
                        encoded.append(encoder.encode(value))
                    except (NotComparable, RecursionError) as exc:
                        encoded.append({"x": _describe(exc) or type(exc).__name__})
                records.append([check_id, encoded])

            shim._sink = sink
        try:
            if mode == "json":
                result = _drain(function(*loads(go[3:])))
                message.update(_json_outcome(result, dumps))
            else:
                _run_test(modules[1], tests[index])
                text = dumps(records, allow_nan=True)
                if len(text) > MAX_RESULT_BYTES:
                    detail = f"observations larger than {MAX_RESULT_BYTES} bytes"
                    message.update(status="fail", detail=detail)
                else:
                    message.update(status="ok", observations=text)
        except BaseException as exc:
            message.update(status="error", error_type=type(exc).__name__, detail=_describe(exc))
        report(message)
    report({"event": "done"})
    exit_now(0)


if __name__ == "__main__":
    main()
