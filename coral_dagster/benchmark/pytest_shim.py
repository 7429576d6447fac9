"""A minimal ``pytest`` module for running QuixBugs test files inside the sandbox.

Copied into the sandbox as ``pytest.py`` (the sandbox has no site-packages). It offers what
QuixBugs-style test files use: ``use_correct`` (False: the tests import the candidate from
``python_programs``), ``run_slow`` (False), ``approx``, ``raises``, ``fail``, ``skip`` and
``mark.parametrize`` (the harness expands it; other marks are accepted and ignored). Real
pytest would cost ~0.3 s of start-up per candidate; the harness runs the test functions itself.

The host rewrites test files before they enter the sandbox (``pytest_rewrite``): asserts call
``_coral_observe`` and ``pytest.raises`` blocks become ``_coral_raises``; both hand the values
to ``_sink``, which the harness sets for each test. The host also imports ``approx`` from here
to compare against literal ``pytest.approx(...)`` operands on its side.
"""

import math
from collections.abc import Callable, Iterable, Sequence

use_correct = False
run_slow = False
_sink: Callable[[int, tuple], None] | None = None  # set by the harness for each test


def _coral_observe(check_id: int, *values: object) -> None:
    """What a rewritten ``assert`` does: hand the operands to the harness, decide nothing."""
    if _sink is None:
        raise RuntimeError("no observation sink: tests must be run by the harness")
    _sink(check_id, values)


class _coral_raises:
    """A rewritten ``with pytest.raises(...)``: records the raised exception's class names
    (``None`` when nothing was raised) and lets the test go on; the host decides."""

    def __init__(self, check_id: int):
        self.check_id = check_id
        self.value: BaseException | None = None

    def __enter__(self) -> "_coral_raises":
        return self

    def __exit__(self, kind: type | None, value: BaseException | None, tb: object) -> bool:
        self.value = value
        names = None if kind is None else tuple(c.__name__ for c in kind.__mro__)
        _coral_observe(self.check_id, names)
        return True


class Failed(AssertionError):
    """Raised by ``fail`` and by ``raises`` when nothing was raised: a failing test."""


class Skipped(Exception):
    """Raised by ``skip``; the harness reports it as an error (a test that did not run)."""


def fail(reason: str = "") -> None:
    raise Failed(reason)


def skip(reason: str = "") -> None:
    raise Skipped(reason)


class approx:
    """``actual == approx(expected, rel=1e-6, abs=1e-12)`` for numbers and sequences of them."""

    def __init__(self, expected: object, rel: float | None = None, abs: float | None = None):
        self.expected = expected
        self.rel = 1e-6 if rel is None else rel
        self.abs = 1e-12 if abs is None else abs

    def _close(self, actual: object, expected: object) -> bool:
        if isinstance(expected, (list, tuple)):
            return (
                isinstance(actual, (list, tuple))
                and len(actual) == len(expected)
                and all(self._close(a, e) for a, e in zip(actual, expected, strict=True))
            )
        if type(actual) not in (int, float) or type(expected) not in (int, float):
            return actual == expected
        if math.isinf(expected) or math.isinf(actual):
            return actual == expected
        return abs(actual - expected) <= max(self.rel * abs(expected), self.abs)

    def __eq__(self, actual: object) -> bool:
        return self._close(actual, self.expected)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"approx({self.expected!r}, rel={self.rel}, abs={self.abs})"


class raises:
    """Context manager: the block must raise one of ``expected`` (else the test fails)."""

    def __init__(self, expected: type[BaseException] | tuple[type[BaseException], ...]):
        self.expected = expected
        self.value: BaseException | None = None

    def __enter__(self) -> "raises":
        return self

    def __exit__(self, kind: type | None, value: BaseException | None, tb: object) -> bool:
        if kind is None:
            raise Failed(f"DID NOT RAISE {self.expected}")
        if issubclass(kind, self.expected):
            self.value = value
            return True
        return False


class _Mark:
    """``pytest.mark``: ``parametrize`` records its values; other marks are no-ops."""

    @staticmethod
    def parametrize(argnames: str | Sequence[str], argvalues: Iterable) -> Callable:
        names = (
            [a.strip() for a in argnames.split(",") if a.strip()]
            if isinstance(argnames, str)
            else list(argnames)
        )
        values = list(argvalues)

        def attach(function: Callable) -> Callable:
            function._coral_parametrize = (names, values)
            return function

        return attach

    def __getattr__(self, name: str) -> Callable:
        def mark(*args: object, **kwargs: object) -> Callable:
            if len(args) == 1 and callable(args[0]) and not kwargs:
                return args[0]
            return lambda function: function

        return mark


mark = _Mark()
