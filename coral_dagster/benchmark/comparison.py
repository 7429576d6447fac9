"""Comparing a candidate's result with a JSON test case's expected value (on the host).

The sandbox returns results as plain JSON data with generators drained to lists and tuples
turned into lists, so QuixBugs' generator results (``flatten``, ``kheapsort``) and ``hanoi``'s
list of tuples compare equal to the JSON lists they are expected as. Equality is Python's
``==`` on that plain data (``4 == 4.0``; NaN equals nothing).

Problems in ``APPROXIMATE_BY_LAST_ARGUMENT`` compare numbers approximately with the last
argument as the absolute tolerance, as QuixBugs' ``test_sqrt.py`` does
(``sqrt(x, epsilon) == approx(expected, abs=epsilon)``).
"""

from __future__ import annotations

import math
from typing import Any

APPROXIMATE_BY_LAST_ARGUMENT: frozenset[str] = frozenset({"sqrt"})


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def approximately_equal(actual: Any, expected: Any, tolerance: float) -> bool:
    """``|actual - expected| <= tolerance`` for numbers (element-wise for lists), else ``==``."""
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(
                approximately_equal(a, e, tolerance) for a, e in zip(actual, expected, strict=True)
            )
        )
    if _is_number(actual) and _is_number(expected):
        if math.isinf(expected) or math.isinf(actual):
            return actual == expected
        return abs(actual - expected) <= tolerance
    return actual == expected


def results_match(problem: str, args: list, expected: Any, actual: Any) -> bool:
    """Whether ``actual`` (plain JSON data from the sandbox) passes ``(args, expected)``."""
    if problem in APPROXIMATE_BY_LAST_ARGUMENT and args and _is_number(args[-1]):
        return approximately_equal(actual, expected, float(args[-1]))
    return actual == expected
