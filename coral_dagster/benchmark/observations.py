"""Judging a pytest-style test on the host from the values the sandbox observed.

The sandbox reports, per test, the list ``[[check_id, [encoded leaf, ...]], ...]`` of the checks
(rewritten asserts, ``pytest.raises`` blocks) in the order they ran (``harness.Encoder`` gives the
encoding). ``judge`` decodes it into host values (``None``/``bool``/``int``/``float``/``str``,
``list``/``tuple``/``set``/``frozenset``/``dict`` and ``SupportRef`` identities; nothing else can
come out) and decides:

1. the candidate ran the same checks, in the same order, as the correct program did (the
   reference run): ids and leaf counts equal;
2. every leaf is comparable (not ``{"x": reason}``);
3. every anchored leaf (compared with another observed value) equals the reference's value;
4. every check's host expression (``pytest_rewrite.Check.expr``) holds on the candidate's
   values, with literals and parametrize bindings from the host.

A candidate can write any report it likes, so this is what the verdict rests on: passing needs
values that equal host-side literals, truthiness the test demands, or the correct program's own
observations. Nothing it sends is ever called or compared with its own code.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from coral_dagster.benchmark.pytest_rewrite import Check, HostExpr, RewrittenTests

MAX_DECODE_DEPTH = 210  # the harness encodes at most 200 levels
MAX_REPR_CHARS = 160


class ObservationError(ValueError):
    """A report that is not a well-formed observation list."""


@dataclass(frozen=True)
class NotComparableValue:
    """A leaf the sandbox could not serialise (an object of an unknown type, ...)."""

    reason: str


@dataclass(frozen=True)
class SupportRef:
    """An object of a support-module class, known only by identity within one test (``#n``)."""

    cls: str
    number: int

    def __repr__(self) -> str:
        return f"<{self.cls} #{self.number}>"


def decode(data: Any, depth: int = 0) -> Any:
    """Host value of one encoded leaf; ``ObservationError`` on anything malformed."""
    if data is None or type(data) in (bool, int, str):
        return data
    if depth > MAX_DECODE_DEPTH:
        raise ObservationError("observation nested too deeply")
    if type(data) is not dict or len(data) != 1:
        raise ObservationError(f"malformed observation {str(data)[:80]!r}")
    ((tag, body),) = data.items()
    inner = depth + 1
    try:
        if tag == "f" and type(body) is str:
            return float(body)
        if tag == "x" and type(body) is str:
            return NotComparableValue(body)
        if tag == "o" and type(body) is list and len(body) == 2:
            cls, number = body
            if type(cls) is str and type(number) is int and number >= 0:
                return SupportRef(cls, number)
        if type(body) is list:
            if tag == "l":
                return [decode(v, inner) for v in body]
            if tag == "t":
                return tuple(decode(v, inner) for v in body)
            if tag == "s":
                return {decode(v, inner) for v in body}
            if tag == "fs":
                return frozenset(decode(v, inner) for v in body)
            if tag == "d":
                if not all(type(p) is list and len(p) == 2 for p in body):
                    raise ObservationError("malformed dict observation")
                return {decode(k, inner): decode(v, inner) for k, v in body}
    except (TypeError, ValueError) as err:  # unhashable key, bad float text
        raise ObservationError(f"malformed observation: {err}") from None
    raise ObservationError(f"malformed observation with tag {tag!r}")


def parse(text: str | None) -> list[tuple[int, tuple[Any, ...]]]:
    """The decoded observation list of one test's report."""
    if text is None:
        raise ObservationError("no observations reported")
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError) as err:
        raise ObservationError(f"unreadable observations: {err}") from None
    if type(raw) is not list:
        raise ObservationError("observations are not a list")
    records = []
    for record in raw:
        if type(record) is not list or len(record) != 2 or type(record[0]) is not int:
            raise ObservationError("malformed observation record")
        if type(record[1]) is not list:
            raise ObservationError("malformed observation values")
        try:
            values = tuple(decode(v) for v in record[1])
        except RecursionError:
            raise ObservationError("observation nested too deeply") from None
        records.append((record[0], values))
    return records


def identical(left: Any, right: Any) -> bool:
    """``is`` on host values: identity for support objects and singletons; for other plain
    values (whose identity the sandbox cannot convey) equal type and value."""
    if isinstance(left, SupportRef) or isinstance(right, SupportRef):
        return left == right
    if left is None or right is None or type(left) is bool or type(right) is bool:
        return left is right
    return type(left) is type(right) and left == right


_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
    "is": identical,
    "is not": lambda a, b: not identical(a, b),
}


def evaluate(expr: HostExpr, leaves: Sequence[Any], params: Mapping[str, Any]) -> Any:
    """Python's meaning of a check's expression, computed on host values only."""
    kind = expr[0]
    if kind == "leaf":
        return leaves[expr[1]]
    if kind == "const":
        return expr[1]
    if kind == "param":
        return params[expr[1]]
    if kind == "not":
        return not evaluate(expr[1], leaves, params)
    if kind == "and":
        value: Any = True
        for operand in expr[1]:
            value = evaluate(operand, leaves, params)
            if not value:
                return value
        return value
    if kind == "or":
        value = False
        for operand in expr[1]:
            value = evaluate(operand, leaves, params)
            if value:
                return value
        return value
    if kind == "cmp":
        ops, operands = expr[1], expr[2]
        left = evaluate(operands[0], leaves, params)
        for op, operand in zip(ops, operands[1:], strict=True):
            right = evaluate(operand, leaves, params)
            if not _OPS[op](left, right):
                return False
            left = right
        return True
    if kind == "raises":
        raised = leaves[0]
        if raised is None:
            return False
        if type(raised) is not tuple or not all(type(n) is str for n in raised):
            raise ObservationError("malformed raised-exception observation")
        return any(name in raised for name in expr[1])
    raise ValueError(f"unknown host expression {kind!r}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_REPR_CHARS else text[: MAX_REPR_CHARS - 3] + "..."


@dataclass(frozen=True)
class Judgement:
    """``passed`` or not, with a one-line reason naming the check's line."""

    passed: bool
    detail: str = ""


def _check_line(check: Check) -> str:
    return f"line {check.line}: assert {check.source}"


def judge(
    tests: RewrittenTests,
    test_id: str,
    candidate: list[tuple[int, tuple[Any, ...]]],
    reference: list[tuple[int, tuple[Any, ...]]] | None,
) -> Judgement:
    """Decide one test from the candidate's observations (and the reference's, if any: the
    reference itself is judged with ``reference=None``)."""
    params = tests.bindings.get(test_id, {})
    if reference is not None and [r[0] for r in candidate] != [r[0] for r in reference]:
        return Judgement(
            False,
            f"the test ran checks {[r[0] for r in candidate][:20]} but with the correct program "
            f"{[r[0] for r in reference][:20]}",
        )
    for position, (check_id, values) in enumerate(candidate):
        if not 0 <= check_id < len(tests.checks):
            return Judgement(False, f"unknown check {check_id}")
        check = tests.checks[check_id]
        if len(values) != len(check.leaves):
            return Judgement(False, f"{_check_line(check)}: wrong number of observed values")
        for i, value in enumerate(values):
            if isinstance(value, NotComparableValue):
                return Judgement(
                    False, f"{_check_line(check)}: {check.leaves[i]} not comparable: {value.reason}"
                )
        if reference is not None:
            expected = reference[position][1]
            for i in sorted(check.anchored):
                if values[i] != expected[i]:
                    return Judgement(
                        False,
                        f"{_check_line(check)}: {check.leaves[i]} is {_short(values[i])}, the "
                        f"correct program's is {_short(expected[i])}",
                    )
        try:
            holds = bool(evaluate(check.expr, values, params))
        except (TypeError, ObservationError) as err:
            return Judgement(False, f"{_check_line(check)}: {type(err).__name__}: {err}")
        if not holds:
            observed = ", ".join(
                f"{leaf} = {_short(v)}" for leaf, v in zip(check.leaves, values, strict=True)
            )
            return Judgement(False, f"{_check_line(check)} failed ({observed})")
    return Judgement(True)
