"""Static inspection of a QuixBugs pytest-style test file: which tests it holds, what it imports.

A test file (``python_testcases/test_<name>.py``) does ``import pytest``, maybe
``from node import Node``, then imports the function under test from
``python_programs.<name>`` (or ``correct_python_programs.<name>`` when ``pytest.use_correct``)
and defines top-level ``test*`` functions. This module reads it without running it:

- it must compile (errors give ``file:line``);
- every import must be the standard library, ``pytest``, the two program packages or a support
  module of the dataset (``node``); anything else cannot exist inside the sandbox;
- it must import ``<name>`` from ``python_programs.<name>`` (else it would not test the
  candidate);
- tests are the top-level ``def test*`` functions in file order; one
  ``@pytest.mark.parametrize(argnames, <literal list>)`` expands a function into one test per
  value (ids ``test_x[0]``, ``test_x[1]``, ...). Fixtures and test classes are not supported.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable

PROGRAM_PACKAGES: tuple[str, ...] = ("python_programs", "correct_python_programs")


class TestFileError(ValueError):
    """A pytest-style test file cannot be used; the message names ``file:line``."""

    __test__ = False  # not a pytest test class


def parametrize_call(decorator: ast.expr) -> ast.Call | None:
    """The ``pytest.mark.parametrize(...)`` call of a decorator, or None for other decorators."""
    if not isinstance(decorator, ast.Call):
        return None
    func = decorator.func
    if isinstance(func, ast.Attribute) and func.attr == "parametrize":
        return decorator
    return None


def _argnames(node: ast.expr, where: str) -> list[str]:
    try:
        value = ast.literal_eval(node)
    except ValueError:
        raise TestFileError(f"{where}: parametrize argnames must be a literal") from None
    if isinstance(value, str):
        return [a.strip() for a in value.split(",") if a.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise TestFileError(f"{where}: parametrize argnames must be a string or list of strings")


def _count_params(call: ast.Call, func: ast.FunctionDef, where: str) -> int:
    if len(call.args) < 2:
        raise TestFileError(f"{where}: parametrize needs (argnames, values)")
    names = _argnames(call.args[0], where)
    params = [a.arg for a in func.args.args]
    if sorted(names) != sorted(params):
        raise TestFileError(
            f"{where}: parametrize names {names} do not match the arguments {params} of {func.name}"
        )
    try:
        values = ast.literal_eval(call.args[1])
    except ValueError:
        raise TestFileError(
            f"{where}: parametrize values must be a literal list (the evaluator counts tests "
            "without running the file)"
        ) from None
    if not isinstance(values, (list, tuple)) or not values:
        raise TestFileError(f"{where}: parametrize values must be a non-empty list")
    if len(names) > 1:
        bad = [
            i
            for i, v in enumerate(values)
            if not isinstance(v, (list, tuple)) or len(v) != len(names)
        ]
        if bad:
            raise TestFileError(
                f"{where}: parametrize value #{bad[0]} does not have {len(names)} items"
            )
    return len(values)


def _check_imports(tree: ast.Module, filename: str, support_modules: Iterable[str]) -> None:
    allowed = {"pytest", *PROGRAM_PACKAGES, *support_modules}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise TestFileError(f"{filename}:{node.lineno}: relative imports are not supported")
            modules = [node.module or ""]
        else:
            continue
        for module in modules:
            top = module.split(".")[0]
            if top not in allowed and top not in sys.stdlib_module_names:
                raise TestFileError(
                    f"{filename}:{node.lineno}: imports {module!r}, which is neither the standard "
                    "library, pytest, python_programs nor a support module of the dataset "
                    f"(support modules: {sorted(support_modules) or 'none'})"
                )


def _imports_function(tree: ast.Module, name: str) -> bool:
    return any(
        isinstance(node, ast.ImportFrom)
        and node.module == f"python_programs.{name}"
        and any(alias.name == name for alias in node.names)
        for node in ast.walk(tree)
    )


def scan_test_file(
    source: str, name: str, filename: str, support_modules: Iterable[str] | None = ()
) -> tuple[str, ...]:
    """Return the test ids of a pytest-style test file for problem ``name`` (file order).

    Raises ``TestFileError`` naming ``filename:line`` when the file does not compile, imports
    something that will not exist in the sandbox, does not import ``name`` from
    ``python_programs.<name>``, uses fixtures or test classes, or holds no test.
    ``support_modules=None`` skips the import check (the dataset's modules are unknown).
    """
    try:
        tree = ast.parse(source, filename=filename)
        compile(tree, filename, "exec")
    except SyntaxError as err:
        raise TestFileError(f"{filename}:{err.lineno}: does not compile: {err.msg}") from None
    if support_modules is not None:
        _check_imports(tree, filename, tuple(support_modules))
    if not _imports_function(tree, name):
        raise TestFileError(
            f"{filename}: does not import {name} from python_programs.{name}, so it cannot test "
            "a candidate program"
        )
    ids: list[str] = []
    seen: dict[str, int] = {}
    for node in tree.body:
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            raise TestFileError(f"{where}: test classes are not supported ({node.name})")
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if not node.name.startswith("test"):
            continue
        if isinstance(node, ast.AsyncFunctionDef):
            raise TestFileError(f"{where}: async tests are not supported ({node.name})")
        if node.name in seen:
            raise TestFileError(
                f"{where}: {node.name} is defined twice (first at line {seen[node.name]})"
            )
        seen[node.name] = node.lineno
        calls = [c for c in map(parametrize_call, node.decorator_list) if c is not None]
        if len(calls) > 1:
            raise TestFileError(f"{where}: stacked parametrize is not supported ({node.name})")
        if calls:
            count = _count_params(calls[0], node, where)
            ids.extend(f"{node.name}[{i}]" for i in range(count))
        else:
            if node.args.args or node.args.kwonlyargs or node.args.posonlyargs:
                raise TestFileError(
                    f"{where}: {node.name} takes arguments; fixtures are not supported"
                )
            ids.append(node.name)
    if not ids:
        raise TestFileError(f"{filename}: holds no top-level test* function")
    return tuple(ids)
