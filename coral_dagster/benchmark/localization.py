"""Oracle fault localisation: the buggy program's changed lines, from a diff with its fix.

QuixBugs-style fixes differ from the buggy file by much more than the bug (a docstring at the
end of the buggy file, comments, blank lines, alternative solutions kept inside a string or
in comments), so the diff compares *code lines* only:

- a physical line is a code line when, after removing its comment (``tokenize`` COMMENT
  tokens), it is not blank and it is not part of a string-expression statement (a docstring
  or any bare string statement, ``ast.Expr`` of a ``str`` constant, at any depth);
- the diff key of a code line is (indentation width, its tokens joined by one space; for a
  line inside a multi-line string, its stripped text), so re-spacing (``a+b`` / ``a + b``)
  does not count as a change while re-indentation and any change inside a string do;
- ``difflib.SequenceMatcher`` (``autojunk=False``) aligns the two key sequences; every
  non-equal opcode is one ``Hunk`` in *buggy* line numbers: replace ``count`` lines from
  ``start`` (the first to the last differing code line, with any blank/comment lines between
  them) by the fix's code lines, or insert before ``start`` when ``count == 0``.

Replacement lines are the fix's code lines with their comments removed and indentation kept
as in the fix. ``Hunk.indent`` is the indentation of the place they go to: the first
replacement line's indentation in the fix (a fix may re-indent; an inserted line may sit deeper
or shallower than both neighbours, e.g. after the end of a nested block), or the first replaced
line's indentation when the hunk only deletes.
"""

from __future__ import annotations

import ast
import difflib
import io
import re
import tokenize
from dataclasses import dataclass

__all__ = [
    "CodeLine",
    "Hunk",
    "LocalizationError",
    "code_lines",
    "merge_hunks",
    "oracle_hunks",
]

_SPACES = re.compile(r"\s+")


class LocalizationError(ValueError):
    """The programs cannot be diffed (one does not parse) or do not differ in code."""


@dataclass(frozen=True)
class CodeLine:
    """One code line: 1-based ``lineno``, its ``text`` without comment or trailing blanks,
    and ``tokens``: the code tokens that start on it."""

    lineno: int
    text: str
    tokens: tuple[str, ...] = ()

    @property
    def indent(self) -> str:
        return self.text[: len(self.text) - len(self.text.lstrip())]

    @property
    def key(self) -> tuple[int, str]:
        code = " ".join(self.tokens) if self.tokens else _SPACES.sub(" ", self.text.strip())
        return len(self.indent.expandtabs()), code


@dataclass(frozen=True)
class Hunk:
    """Replace ``count`` buggy lines from line ``start`` (1-based) by ``lines``; ``count == 0``
    inserts ``lines`` before line ``start``. ``indent`` is the indentation of the place the
    lines go to (see the module doc); ``lines`` keep their own (relative) indentation."""

    start: int
    count: int
    lines: tuple[str, ...]
    indent: str

    def __post_init__(self) -> None:
        if self.start < 1 or self.count < 0:
            raise ValueError(f"hunk start must be >= 1 and count >= 0, got {self!r}")
        if self.count == 0 and not self.lines:
            raise ValueError(f"hunk at line {self.start} neither replaces nor inserts anything")

    @property
    def is_insertion(self) -> bool:
        return self.count == 0

    @property
    def end(self) -> int:
        """Last replaced line (``start - 1`` for an insertion)."""
        return self.start + self.count - 1


def _string_statement_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
        ):
            end = node.end_lineno if node.end_lineno is not None else node.lineno
            lines.update(range(node.lineno, end + 1))
    return lines


_LAYOUT_TOKENS = frozenset(
    {tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
)


def _scan(source: str) -> tuple[dict[int, int], dict[int, list[str]]]:
    """(line -> column where its comment starts, line -> code tokens starting on it)."""
    columns: dict[int, int] = {}
    tokens: dict[int, list[str]] = {}
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            columns[token.start[0]] = token.start[1]
        elif token.type not in _LAYOUT_TOKENS:
            tokens.setdefault(token.start[0], []).append(token.string)
    return columns, tokens


def code_lines(source: str, label: str = "program") -> list[CodeLine]:
    """The code lines of ``source`` (see the module doc); ``label`` names it in errors."""
    try:
        tree = ast.parse(source)
        comments, tokens = _scan(source)
    except (SyntaxError, tokenize.TokenError, ValueError) as err:
        raise LocalizationError(f"{label} does not parse: {err}") from None
    strings = _string_statement_lines(tree)
    result = []
    for lineno, line in enumerate(source.splitlines(), start=1):
        if lineno in strings:
            continue
        text = line[: comments[lineno]] if lineno in comments else line
        text = text.rstrip()
        if text.strip():
            result.append(CodeLine(lineno, text, tuple(tokens.get(lineno, ()))))
    return result


def oracle_hunks(buggy: str, correct: str, name: str = "program") -> list[Hunk]:
    """Hunks turning ``buggy``'s code into ``correct``'s, in buggy line numbers, in order.

    Raises ``LocalizationError`` naming ``name`` when a program does not parse or the two have
    the same code lines (nothing to localise).
    """
    old = code_lines(buggy, f"{name}: buggy program")
    new = code_lines(correct, f"{name}: correct program")
    matcher = difflib.SequenceMatcher(None, [c.key for c in old], [c.key for c in new], False)
    hunks = []
    n_buggy_lines = len(buggy.splitlines())
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        lines = tuple(c.text for c in new[j1:j2])
        if i1 < i2:
            start = old[i1].lineno
            indent = new[j1].indent if lines else old[i1].indent
            hunks.append(Hunk(start, old[i2 - 1].lineno - start + 1, lines, indent))
        else:
            start = old[i1].lineno if i1 < len(old) else n_buggy_lines + 1
            hunks.append(Hunk(start, 0, lines, new[j1].indent))
    if not hunks:
        raise LocalizationError(f"{name}: buggy and correct programs have the same code lines")
    return hunks


def merge_hunks(buggy: str, hunks: list[Hunk]) -> Hunk:
    """One hunk spanning ``hunks`` (sorted, non-overlapping): the buggy lines between them are
    kept verbatim inside the replacement, so applying it equals applying them all."""
    if not hunks:
        raise ValueError("merge_hunks: no hunk")
    ordered = sorted(hunks, key=lambda h: (h.start, h.count))
    if len(ordered) == 1:
        return ordered[0]
    source_lines = buggy.splitlines()
    lines: list[str] = []
    position = ordered[0].start
    for hunk in ordered:
        if hunk.start < position:
            raise ValueError(f"merge_hunks: overlapping hunks at line {hunk.start}")
        lines.extend(source_lines[position - 1 : hunk.start - 1])
        lines.extend(hunk.lines)
        position = hunk.start + hunk.count
    first = ordered[0]
    indent_line = lines[0] if lines else source_lines[first.start - 1]
    indent = indent_line[: len(indent_line) - len(indent_line.lstrip())]
    return Hunk(first.start, position - first.start, tuple(lines), indent)
