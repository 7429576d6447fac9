"""Small (buggy -> fixed) Python programs written inline for the model-layer tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from coral_dagster.domain.genome import HeavyGenes
from coral_dagster.model.prompts import LineTask

TRAINING_PAIRS: list[tuple[str, str, str]] = [
    (
        "gcd",
        "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)\n",
        "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(b, a % b)\n",
    ),
    (
        "is_even",
        "def is_even(n):\n    return n % 2 == 1\n",
        "def is_even(n):\n    return n % 2 == 0\n",
    ),
    (
        "maximum",
        "def maximum(xs):\n    best = xs[0]\n    for x in xs:\n        if x < best:\n"
        "            best = x\n    return best\n",
        "def maximum(xs):\n    best = xs[0]\n    for x in xs:\n        if x > best:\n"
        "            best = x\n    return best\n",
    ),
    (
        "count_vowels",
        "def count_vowels(text):\n    return sum(1 for c in text if c in 'aeiuo' and False)\n",
        "def count_vowels(text):\n    return sum(1 for c in text.lower() if c in 'aeiou')\n",
    ),
]

EVAL_PROBLEMS: list[tuple[str, str]] = [
    ("add", "def add(a, b):\n    return a - b\n"),
    ("square", "def square(x):\n    return x * 2\n"),
    (
        "factorial",
        "def factorial(n):\n    result = 1\n    for i in range(1, n):\n        result *= i\n"
        "    return result\n",
    ),
    (
        "reverse_words",
        "def reverse_words(sentence):\n    return ' '.join(sentence.split(' ')[::1])\n",
    ),
]


# The ``line``-format task of the model tests: gcd's buggy last line, its fix and wrong answers
# (other edits of that line, none of which fixes it).
GCD_BUGGY = TRAINING_PAIRS[0][1]
GCD_TASK = LineTask("gcd", GCD_BUGGY, start=4, count=1)
GCD_FIX = "    return gcd(b, a % b)"
GCD_WRONG = (
    "    return gcd(a % b, b + 1)",
    "    return gcd(b % a, b)",
    "    return a",
    "    return gcd(a, b)",
)
# The programs the fix and the wrong answers make (line 4 replaced), for program scores.
GCD_PROGRAMS = tuple(
    "".join([*GCD_BUGGY.splitlines(keepends=True)[:3], line + "\n"])
    for line in (GCD_FIX, *GCD_WRONG)
)
# Adapter genes that move tiny-random visibly in a few steps (a large learning rate).
FAST_LINE_GENES = HeavyGenes(8, 16, 0.0, ("q_proj", "v_proj"), "lora", 5e-2)


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch ops on ``count`` intra-op threads, restoring the previous count afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
