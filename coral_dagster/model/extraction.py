"""Extract the repaired program from a model's raw output (pure Python, no torch).

Rules, in order:

1. Closed fenced code blocks (```python / ```py / ``` with no language) in order of appearance:
   the first whose dedented text parses and defines ``def <name>`` at top level.
2. Otherwise, in the text outside the closed fenced blocks (prose, or an unclosed fence when the
   output was cut off): the first ``def <name>(`` line with its indented body (up to the first
   non-blank line indented no deeper than the ``def``), preceded by the ``import`` / ``from ...
   import`` lines that appear before it. Code inside a closed block that failed rule 1 (e.g. a
   method ``gcd`` inside a class) is not pulled out of it.

The result must parse and define the function, or the answer is ``None`` ("no program"). Nothing
is ever repaired or completed: an output cut off mid-statement that no longer parses is ``None``.
"""

from __future__ import annotations

import ast
import re
import textwrap

PYTHON_FENCE_LANGUAGES = frozenset({"", "python", "py", "python3"})

_FENCE_RE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+.-]*)[^\n]*\n(.*?)^[ \t]*```", re.M | re.S)
_IMPORT_RE = re.compile(r"^(import\s+[\w.]+.*|from\s+[\w.]+\s+import\s+.+)$")


def defines_function(source: str, function_name: str) -> bool:
    """True when ``source`` parses and has a top-level ``def <function_name>``."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False
    return any(
        isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function_name
        for node in tree.body
    )


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """Closed fenced blocks as (language tag lower-cased, dedented code), in order."""
    return [
        (match.group(1).lower(), textwrap.dedent(match.group(2)))
        for match in _FENCE_RE.finditer(text)
    ]


def _function_with_body(text: str, function_name: str) -> str | None:
    lines = text.splitlines()
    def_re = re.compile(rf"^([ \t]*)(async[ \t]+)?def[ \t]+{re.escape(function_name)}[ \t]*\(")
    for start, line in enumerate(lines):
        match = def_re.match(line)
        if match is None:
            continue
        indent = len(match.group(1).expandtabs())
        end = start + 1
        while end < len(lines):
            current = lines[end]
            stripped = current.strip()
            dedented = len(current.expandtabs()) - len(current.expandtabs().lstrip())
            # A line at the def's depth ends the function (prose, a closing fence, the next
            # statement), except the ')' closing a multi-line signature.
            if stripped and dedented <= indent and not stripped.startswith(")"):
                break
            end += 1
        body = textwrap.dedent("\n".join(lines[start:end])).rstrip() + "\n"
        imports = [
            stripped
            for stripped in (raw.strip() for raw in lines[:start])
            if _IMPORT_RE.match(stripped) and defines_imports(stripped)
        ]
        return "\n".join([*imports, body]) if imports else body
    return None


def defines_imports(line: str) -> bool:
    """True when ``line`` is one syntactically valid import statement."""
    try:
        tree = ast.parse(line)
    except SyntaxError:
        return False
    return len(tree.body) == 1 and isinstance(tree.body[0], (ast.Import, ast.ImportFrom))


def extract_program(text: str, function_name: str) -> str | None:
    """The program in ``text`` that defines ``function_name``, or ``None`` (see module doc)."""
    for language, code in fenced_blocks(text):
        if language in PYTHON_FENCE_LANGUAGES and defines_function(code, function_name):
            return code.strip("\n") + "\n"
    candidate = _function_with_body(_FENCE_RE.sub("", text), function_name)
    if candidate is not None and defines_function(candidate, function_name):
        return candidate
    return None
