"""extract_program on realistic model outputs: fenced, unfenced, truncated, wrong function."""

from __future__ import annotations

import ast

from coral_dagster.model.extraction import defines_function, extract_program, fenced_blocks

FIXED_GCD = "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(b, a % b)\n"


def test_chat_answer_with_python_fence() -> None:
    text = (
        "The bug is in the recursive call: the arguments are swapped.\n\n"
        f"```python\n{FIXED_GCD}```\n\n"
        "This version now computes the greatest common divisor correctly."
    )
    assert extract_program(text, "gcd") == FIXED_GCD


def test_prefers_first_block_that_defines_the_function() -> None:
    text = (
        "Example usage:\n```python\nprint(gcd(35, 21))\n```\n"
        "Fixed function:\n```py\n" + FIXED_GCD + "```\n"
        "Alternative:\n```python\ndef gcd(a, b):\n    return a\n```"
    )
    assert extract_program(text, "gcd") == FIXED_GCD


def test_skips_blocks_in_other_languages_and_unparsable_blocks() -> None:
    text = (
        "```bash\ndef gcd(a, b):\n    return 1\n```\n"
        "```python\ndef gcd(a, b)\n    return a\n```\n"  # missing colon: does not parse
        "```\n" + FIXED_GCD + "```"
    )
    assert extract_program(text, "gcd") == FIXED_GCD


def test_keeps_imports_and_helpers_inside_the_block() -> None:
    block = (
        "from collections import deque\n\n"
        "def _neighbours(node):\n    return node.successors\n\n"
        "def breadth_first_search(start, goal):\n"
        "    queue = deque([start])\n    seen = {start}\n"
        "    while queue:\n        node = queue.popleft()\n"
        "        if node is goal:\n            return True\n"
        "        for n in _neighbours(node):\n"
        "            if n not in seen:\n"
        "                seen.add(n)\n                queue.append(n)\n"
        "    return False\n"
    )
    program = extract_program(f"Here you go:\n```python\n{block}```", "breadth_first_search")
    assert program == block
    assert defines_function(program, "_neighbours")


def test_indented_fence_is_dedented() -> None:
    text = "1. Fix:\n\n    ```python\n    def inc(x):\n        return x + 1\n    ```\n"
    assert extract_program(text, "inc") == "def inc(x):\n    return x + 1\n"


def test_unfenced_function_with_preceding_imports() -> None:
    text = (
        "import math\nfrom itertools import chain\n\n"
        "The corrected code is below.\n"
        "def sqrt(x, epsilon):\n"
        "    approx = x / 2\n"
        "    while abs(x - approx ** 2) > epsilon:\n"
        "        approx = 0.5 * (approx + x / approx)\n"
        "\n"
        "    return approx\n"
        "This uses Newton's method and converges quickly.\n"
    )
    program = extract_program(text, "sqrt")
    assert program == (
        "import math\nfrom itertools import chain\n"
        "def sqrt(x, epsilon):\n"
        "    approx = x / 2\n"
        "    while abs(x - approx ** 2) > epsilon:\n"
        "        approx = 0.5 * (approx + x / approx)\n"
        "\n"
        "    return approx\n"
    )
    ast.parse(program)


def test_unclosed_fence_cut_at_a_statement_boundary_is_kept_verbatim() -> None:
    text = "```python\ndef bitcount(n):\n    count = 0\n    while n:\n        n &= n - 1\n"
    assert extract_program(text, "bitcount") == (
        "def bitcount(n):\n    count = 0\n    while n:\n        n &= n - 1\n"
    )


def test_output_cut_mid_statement_is_no_program() -> None:
    text = "```python\ndef bitcount(n):\n    count = 0\n    while n:\n        n &= (n -"
    assert extract_program(text, "bitcount") is None


def test_multiline_signature_closing_paren_at_def_depth() -> None:
    text = "def knapsack(\n    capacity,\n    items,\n):\n    return capacity\n\nDone."
    assert extract_program(text, "knapsack") == (
        "def knapsack(\n    capacity,\n    items,\n):\n    return capacity\n"
    )


def test_wrong_function_name_is_no_program() -> None:
    text = "```python\ndef greatest_common_divisor(a, b):\n    return a\n```"
    assert extract_program(text, "gcd") is None


def test_nested_definition_does_not_count() -> None:
    text = "```python\nclass Solver:\n    def gcd(self, a, b):\n        return a\n```"
    assert extract_program(text, "gcd") is None


def test_prose_only_and_empty_output_are_no_program() -> None:
    assert extract_program("I cannot help with that.", "gcd") is None
    assert extract_program("", "gcd") is None


def test_function_name_is_matched_exactly() -> None:
    text = "def gcd_helper(a):\n    return a\n"
    assert extract_program(text, "gcd") is None
    assert extract_program(text, "gcd_helper") == text


def test_fenced_blocks_lists_languages_in_order() -> None:
    text = "```Python\nx = 1\n```\ntext\n```\ny = 2\n```"
    assert fenced_blocks(text) == [("python", "x = 1\n"), ("", "y = 2\n")]
