"""Benchmark problems in the QuixBugs layout: loading, validation and content fingerprints.

Layout of a dataset directory::

    python_programs/<name>.py          buggy program defining function <name>
    correct_python_programs/<name>.py  its fix
    json_testcases/<name>.json         JSON Lines, one ``[args, expected]`` per line
    python_testcases/test_<name>.py    pytest-style tests (used only where no JSON exists)
    python_programs/node.py            support modules the tests import (``from node import Node``)

Rules (QuixBugs quirks included):

- a ``python_programs/*.py`` file is a problem when it has JSON or pytest tests; a file without
  tests that defines no function of its own name is a support module (``node.py``);
  ``*_test.py`` (QuixBugs' old hand-written drivers) and ``__init__.py`` are ignored;
- a JSON case whose ``args`` is not a list is wrapped as ``[args]`` (QuixBugs' ``tester.py``
  does the same for its one-argument cases); blank lines are skipped;
- JSON wins over a pytest file for the same problem (QuixBugs ships both for JSON problems);
- a JSON case with ``NaN``, ``Infinity`` or a number that overflows to infinity (``1e999``) is
  refused: NaN equals nothing and infinities are not JSON; no QuixBugs case has one (an
  infinite expected value, as ``shortest_path_length``'s, only occurs in pytest-style tests,
  written ``float("inf")``);
- pytest-style test files are rewritten (``pytest_rewrite``) so the host judges their asserts;
  support classes (``Node``) must not define comparison, ``__bool__`` or ``__len__`` methods,
  because the host compares their objects by identity, as Python does without them.

Every error is a ``ProblemLoadError`` naming the file (and line where there is one).
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from coral_dagster.benchmark.pytest_cases import TestFileError, scan_test_file
from coral_dagster.benchmark.pytest_rewrite import RewrittenTests, rewrite_tests
from coral_dagster.domain.hashing import content_hash

BUNDLED_DATASET: Path = Path(__file__).resolve().parent / "data" / "coral_bugs"

PROGRAMS_DIR = "python_programs"
CORRECT_DIR = "correct_python_programs"
JSON_DIR = "json_testcases"
PYTEST_DIR = "python_testcases"
# Methods that would give a support object a meaning of ==, <, truth or length other than
# identity; the host compares observed support objects by identity only.
IDENTITY_BREAKING_METHODS: frozenset[str] = frozenset(
    {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__len__"}
)


class ProblemLoadError(ValueError):
    """A dataset cannot be loaded; the message names the file (and line)."""


def cases_text(cases: Iterable[tuple[list, Any]]) -> str:
    """Canonical text of JSON cases (sorted keys): used in fingerprints."""
    return json.dumps([list(c) for c in cases], sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Problem:
    """One benchmark problem: a buggy program, its fix, and its tests (JSON cases or pytest).

    ``pytest_test_ids`` lists the pytest tests in file order (parametrized ones as
    ``test_x[i]``); it is derived from ``pytest_source`` when not given, and so is
    ``pytest_rewrite`` (what enters the sandbox and what the host keeps to judge it).
    ``program`` is the module and function the buggy program defines (default ``name``); a
    problem made from another's program (an injected validation bug, ``gcd~3``) keeps its
    own key in ``name`` and runs as ``program`` (``gcd.py``, ``def gcd``).
    """

    name: str
    buggy_source: str
    correct_source: str
    json_cases: tuple[tuple[list, Any], ...] | None
    pytest_source: str | None
    pytest_test_ids: tuple[str, ...] = field(default=())
    pytest_rewrite: RewrittenTests | None = field(default=None, compare=False, repr=False)
    program: str = ""

    def __post_init__(self) -> None:
        if not self.program:
            object.__setattr__(self, "program", self.name)
        if (self.json_cases is None) == (self.pytest_source is None):
            raise ValueError(f"problem {self.name}: give exactly one of json_cases, pytest_source")
        if self.json_cases is not None and not self.json_cases:
            raise ValueError(f"problem {self.name}: no JSON test cases")
        if self.pytest_source is not None and not self.pytest_test_ids:
            ids = scan_test_file(self.pytest_source, self.program, f"test_{self.program}.py", None)
            object.__setattr__(self, "pytest_test_ids", ids)
        if self.pytest_source is not None and self.pytest_rewrite is None:
            rewrite = rewrite_tests(self.pytest_source, f"test_{self.program}.py")
            object.__setattr__(self, "pytest_rewrite", rewrite)

    def rewritten_tests(self) -> RewrittenTests:
        """The host's rewrite of the pytest-style tests (``ValueError`` for a JSON problem)."""
        if self.pytest_rewrite is None:
            raise ValueError(f"problem {self.name} has JSON cases, not pytest-style tests")
        return self.pytest_rewrite

    @property
    def kind(self) -> str:
        """``"json"`` or ``"pytest"``: how the tests are run."""
        return "json" if self.json_cases is not None else "pytest"

    @property
    def n_tests(self) -> int:
        return len(self.json_cases) if self.json_cases is not None else len(self.pytest_test_ids)

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of name, both sources and the tests (and the program's
        module name where it differs from the name)."""
        fields = {"program": self.program} if self.program != self.name else {}
        return content_hash(
            {
                **fields,
                "name": self.name,
                "buggy": self.buggy_source,
                "correct": self.correct_source,
                "json_cases": None if self.json_cases is None else cases_text(self.json_cases),
                "pytest": self.pytest_source,
            }
        )


@dataclass(frozen=True)
class ProblemSet:
    """Problems by name (sorted) plus the support modules their tests import (name -> source)."""

    root: Path
    problems: Mapping[str, Problem]
    support_files: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ordered = {n: self.problems[n] for n in sorted(self.problems)}
        for name, problem in ordered.items():
            if problem.name != name:
                raise ValueError(f"problem set key {name!r} holds problem {problem.name!r}")
        object.__setattr__(self, "problems", MappingProxyType(ordered))
        support = {n: self.support_files[n] for n in sorted(self.support_files)}
        object.__setattr__(self, "support_files", MappingProxyType(support))

    def names(self) -> tuple[str, ...]:
        return tuple(self.problems)

    def fingerprint(self) -> str:
        """SHA-256 over every problem's fingerprint and the support modules (not the path)."""
        return content_hash(
            {
                "problems": {n: p.fingerprint() for n, p in self.problems.items()},
                "support": dict(self.support_files),
            }
        )

    def subset(self, names: Iterable[str]) -> ProblemSet:
        """The problems named (support modules kept); unknown names raise ``KeyError``."""
        names = list(names)
        unknown = sorted(set(names) - set(self.problems))
        if unknown:
            raise KeyError(f"unknown problems {unknown} (dataset {self.root})")
        return ProblemSet(self.root, {n: self.problems[n] for n in names}, self.support_files)


def resolve_dataset(dataset: str | Path) -> Path:
    """``"bundled"`` -> ``BUNDLED_DATASET``; anything else is a directory path."""
    if str(dataset) == "bundled":
        return BUNDLED_DATASET
    return Path(dataset).expanduser()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ProblemLoadError(f"{path}: not UTF-8 text ({err})") from None


def _defines_function(source: str, name: str, path: Path) -> bool:
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as err:
        raise ProblemLoadError(f"{path}:{err.lineno}: does not parse: {err.msg}") from None
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body)


class _NonFinite(ValueError):
    pass


def _reject_constant(name: str) -> float:
    raise _NonFinite(name)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NonFinite(text)
    return value


def _support_class_problems(source: str, path: Path) -> None:
    """Refuse support classes whose objects the host could not compare by identity."""
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as err:
        raise ProblemLoadError(f"{path}:{err.lineno}: does not parse: {err.msg}") from None
    for node in tree.body:
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and item.name in IDENTITY_BREAKING_METHODS:
                raise ProblemLoadError(
                    f"{path}:{item.lineno}: support class {node.name} defines {item.name}; the "
                    "host compares support objects by identity, so it must not"
                )


def load_json_cases(path: Path) -> tuple[tuple[list, Any], ...]:
    """Parse a JSON Lines test file into ``(args, expected)`` pairs (non-list args wrapped)."""
    cases: list[tuple[list, Any]] = []
    for lineno, line in enumerate(_read(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            case = json.loads(line, parse_constant=_reject_constant, parse_float=_finite_float)
        except json.JSONDecodeError as err:
            raise ProblemLoadError(f"{path}:{lineno}: malformed JSON: {err.msg}") from None
        except _NonFinite as err:
            raise ProblemLoadError(
                f"{path}:{lineno}: non-finite number {err} (NaN and infinities are not JSON "
                "and cannot be compared)"
            ) from None
        if not isinstance(case, list) or len(case) != 2:
            raise ProblemLoadError(f"{path}:{lineno}: expected a JSON list [args, expected]")
        args, expected = case
        cases.append((args if isinstance(args, list) else [args], expected))
    if not cases:
        raise ProblemLoadError(f"{path}: holds no test case")
    return tuple(cases)


def load_problem_set(dataset: str | Path = "bundled") -> ProblemSet:
    """Load and validate a QuixBugs-layout dataset (``"bundled"`` or a directory)."""
    root = resolve_dataset(dataset)
    programs_dir = root / PROGRAMS_DIR
    if not programs_dir.is_dir():
        raise ProblemLoadError(f"dataset {root}: no {PROGRAMS_DIR}/ directory")
    json_dir, pytest_dir, correct_dir = root / JSON_DIR, root / PYTEST_DIR, root / CORRECT_DIR

    tested: dict[str, Path] = {}
    support: dict[str, str] = {}
    for path in sorted(programs_dir.glob("*.py")):
        stem = path.stem
        if stem == "__init__" or stem.endswith("_test"):
            continue
        json_path, pytest_path = json_dir / f"{stem}.json", pytest_dir / f"test_{stem}.py"
        if json_path.is_file() or pytest_path.is_file():
            tested[stem] = path
            continue
        source = _read(path)
        if _defines_function(source, stem, path):
            raise ProblemLoadError(f"{path}: no test cases (expected {json_path} or {pytest_path})")
        _support_class_problems(source, path)
        support[stem] = source

    for orphan in sorted(json_dir.glob("*.json")) if json_dir.is_dir() else []:
        if orphan.stem not in tested:
            raise ProblemLoadError(f"{orphan}: no matching {programs_dir / (orphan.stem + '.py')}")
    for orphan in sorted(pytest_dir.glob("test_*.py")) if pytest_dir.is_dir() else []:
        stem = orphan.stem.removeprefix("test_")
        if stem not in tested:
            raise ProblemLoadError(f"{orphan}: no matching {programs_dir / (stem + '.py')}")

    problems: dict[str, Problem] = {}
    for name, path in tested.items():
        correct_path = correct_dir / f"{name}.py"
        if not correct_path.is_file():
            raise ProblemLoadError(f"{path}: missing correct program {correct_path}")
        json_path = json_dir / f"{name}.json"
        json_cases = pytest_source = None
        ids: tuple[str, ...] = ()
        rewrite = None
        if json_path.is_file():
            json_cases = load_json_cases(json_path)
        else:
            pytest_path = pytest_dir / f"test_{name}.py"
            pytest_source = _read(pytest_path)
            try:
                ids = scan_test_file(pytest_source, name, str(pytest_path), support)
                rewrite = rewrite_tests(pytest_source, str(pytest_path))
            except TestFileError as err:
                raise ProblemLoadError(str(err)) from None
        problems[name] = Problem(
            name=name,
            buggy_source=_read(path),
            correct_source=_read(correct_path),
            json_cases=json_cases,
            pytest_source=pytest_source,
            pytest_test_ids=ids,
            pytest_rewrite=rewrite,
        )
    if not problems:
        raise ProblemLoadError(f"dataset {root}: {programs_dir} holds no problem with tests")
    return ProblemSet(root=root, problems=problems, support_files=support)
