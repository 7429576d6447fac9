"""Small (buggy -> fixed) Python programs written inline for the model-layer tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

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


@contextmanager
def torch_threads(count: int) -> Iterator[None]:
    """Run torch ops on ``count`` intra-op threads, restoring the previous count afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
