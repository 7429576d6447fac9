"""Line patches: put replacement line(s) at a marked place, and read a model's line answer.

A place in a buggy program is ``(start, count, indent)``: replace ``count`` lines from line
``start`` (1-based), or insert before line ``start`` when ``count == 0``; ``indent`` is the
indentation the new code goes to (``localization.Hunk`` carries all three).

Re-indentation (``reindent``): the model may answer a line without, or with the wrong,
indentation. The first non-blank answer line is put at ``indent``; every other line keeps its
indentation relative to that first line (so a two-line answer ``if x:`` / ``    y`` stays a
block). A line indented *less* than the first one has no place to go: malformed. Tabs count as
8 columns (``str.expandtabs``) when measuring; output indentation is ``indent`` + spaces.

Answer formats, parsed strictly (a malformed answer raises ``PatchError`` carrying the reason,
never a guess):

- ``line`` (``parse_line_answer``): only the replacement line(s). Either plain text, or exactly
  one closed fenced block (```` ``` ````, ```` ```python ````, ```` ```py ````) with nothing but
  blanks outside it. Empty answers, several blocks, an unclosed fence, prose around a block, or
  lines that copy the prompt listing's ``>>`` marker or ``12 | `` line-number prefix are
  rejected.
- ``none`` localisation (``parse_numbered_answer``): one line ``N: code`` per replaced line,
  with consecutive numbers N, N+1, ... (optionally in one fence); each replaces that buggy line
  and is re-indented to that line's own indentation. An insertion cannot be expressed in this
  format (the model must restate a neighbouring line instead: not supported).

``patch_program`` applies an answer and checks the result parses, so every failure is a
``PatchError`` with a reason; ``try_patch`` returns a ``PatchResult`` instead of raising.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from coral_dagster.benchmark.localization import Hunk

__all__ = [
    "AnswerFormat",
    "PatchError",
    "PatchResult",
    "apply_hunk",
    "apply_lines",
    "parse_line_answer",
    "parse_numbered_answer",
    "patch_program",
    "reindent",
    "try_patch",
]

AnswerFormat = Literal["line", "none"]

_FENCE = re.compile(r"^[ \t]*```[ \t]*([A-Za-z0-9_+.-]*)[ \t]*$")
_FENCE_LANGUAGES = frozenset({"", "python", "py", "python3"})
_LISTING_PREFIX = re.compile(r"^\s*(>>|\d+ *\|( |$))")  # the prompt's `>> 12 | ` prefix
_NUMBERED = re.compile(r"^\s*(\d+)\s*:[ \t]?(.*)$")


class PatchError(ValueError):
    """An answer cannot become a program; ``reason`` says why (short, stable wording)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PatchResult:
    """``program`` when the answer patched the program, else ``reason``."""

    program: str | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.program is not None


def _indent_width(line: str) -> int:
    expanded = line.expandtabs()
    return len(expanded) - len(expanded.lstrip())


def reindent(lines: Sequence[str], indent: str) -> list[str]:
    """``lines`` moved so the first non-blank one starts at ``indent``, relative indentation
    kept; blank lines become empty. Raises ``PatchError`` for a line indented less than the
    first or for no code at all."""
    if indent.strip():
        raise ValueError(f"indent must be blanks only, got {indent!r}")
    code = [line for line in lines if line.strip()]
    if not code:
        raise PatchError("empty answer")
    base = _indent_width(code[0])
    out = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            out.append("")
            continue
        width = _indent_width(line)
        if width < base:
            raise PatchError(f"answer line {number} is indented less than its first line")
        out.append(indent + " " * (width - base) + line.expandtabs().strip())
    return out


def _check_place(source_lines: Sequence[str], start: int, count: int) -> None:
    last = len(source_lines) + (1 if count == 0 else 0)
    if count < 0 or start < 1 or start + max(count, 1) - 1 > last:
        raise PatchError(
            f"place line {start} (+{count}) is outside the program (1..{len(source_lines)})"
        )


def apply_lines(source: str, start: int, count: int, lines: Sequence[str], indent: str) -> str:
    """``source`` with ``count`` lines from ``start`` replaced by ``lines`` re-indented to
    ``indent`` (``count == 0``: inserted before line ``start``). The final newline is kept."""
    source_lines = source.splitlines()
    _check_place(source_lines, start, count)
    if not lines and count > 0:
        new: list[str] = []  # a pure deletion
    else:
        new = reindent(lines, indent)
    result = [*source_lines[: start - 1], *new, *source_lines[start - 1 + count :]]
    return "\n".join(result) + ("\n" if source.endswith("\n") or not source else "")


def apply_hunk(source: str, hunk: Hunk) -> str:
    """``source`` with ``hunk`` applied (its lines re-indented to ``hunk.indent``)."""
    return apply_lines(source, hunk.start, hunk.count, hunk.lines, hunk.indent)


def _unfence(text: str) -> list[str]:
    """The answer's lines: the content of its one fenced block, or the whole text."""
    lines = text.strip("\n").splitlines()
    fences = [i for i, line in enumerate(lines) if _FENCE.match(line)]
    if not fences:
        if "```" in text:
            raise PatchError("malformed code fence")
        return lines
    if len(fences) == 1:
        raise PatchError("unclosed code fence")
    if len(fences) > 2:
        raise PatchError("more than one code block")
    first, last = fences
    language = _FENCE.match(lines[first]).group(1).lower()  # type: ignore[union-attr]
    if language not in _FENCE_LANGUAGES:
        raise PatchError(f"code block language {language!r} is not python")
    outside = [line for line in (*lines[:first], *lines[last + 1 :]) if line.strip()]
    if outside:
        raise PatchError("text outside the code block")
    return lines[first + 1 : last]


def parse_line_answer(text: str) -> tuple[str, ...]:
    """The replacement lines of a ``line`` answer (as written; re-indent them when applying).

    Raises ``PatchError`` (see the module doc for what is malformed)."""
    lines = _unfence(text)
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if not lines:
        raise PatchError("empty answer")
    for number, line in enumerate(lines, start=1):
        if _LISTING_PREFIX.match(line):
            raise PatchError(f"answer line {number} copies the listing's line number or marker")
    return tuple(lines)


def parse_numbered_answer(text: str) -> tuple[int, tuple[str, ...]]:
    """``(first line number, code per line)`` of a ``none`` answer (``N: code`` lines with
    consecutive numbers). Raises ``PatchError``."""
    lines = [line for line in _unfence(text) if line.strip()]
    if not lines:
        raise PatchError("empty answer")
    numbers, codes = [], []
    for number, line in enumerate(lines, start=1):
        match = _NUMBERED.match(line)
        if match is None:
            raise PatchError(f"answer line {number} does not start with 'N: '")
        if not match.group(2).strip():
            raise PatchError(f"answer line {number} has no code after its line number")
        numbers.append(int(match.group(1)))
        codes.append(match.group(2).strip())
    if numbers != list(range(numbers[0], numbers[0] + len(numbers))):
        raise PatchError(f"answer line numbers are not consecutive: {numbers}")
    if numbers[0] < 1:
        raise PatchError("answer names line 0")
    return numbers[0], tuple(codes)


def _parses(program: str) -> None:
    try:
        ast.parse(program)
    except SyntaxError as err:
        raise PatchError(f"patched program does not parse (line {err.lineno}: {err.msg})") from None
    except ValueError as err:
        raise PatchError(f"patched program does not parse ({err})") from None


def patch_program(
    source: str, answer: str, answer_format: AnswerFormat, place: Hunk | None = None
) -> str:
    """The program ``answer`` makes of ``source``: a ``line`` answer goes to ``place``
    (required); a ``none`` answer names its own lines (``place`` ignored). The result must
    parse. Raises ``PatchError`` with the reason otherwise."""
    if answer_format == "line":
        if place is None:
            raise ValueError("a 'line' answer needs the marked place")
        program = apply_lines(
            source, place.start, place.count, parse_line_answer(answer), place.indent
        )
    elif answer_format == "none":
        start, codes = parse_numbered_answer(answer)
        source_lines = source.splitlines()
        _check_place(source_lines, start, len(codes))
        new = [_leading(source_lines[start - 1 + k]) + code for k, code in enumerate(codes)]
        rest = source_lines[start - 1 + len(codes) :]
        program = "\n".join([*source_lines[: start - 1], *new, *rest])
        program += "\n" if source.endswith("\n") else ""
    else:
        raise ValueError(f"answer format must be 'line' or 'none', got {answer_format!r}")
    _parses(program)
    return program


def _leading(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def try_patch(
    source: str, answer: str, answer_format: AnswerFormat, place: Hunk | None = None
) -> PatchResult:
    """``patch_program`` as a result: ``PatchResult(program)`` or ``PatchResult(None, reason)``."""
    try:
        return PatchResult(patch_program(source, answer, answer_format, place))
    except PatchError as err:
        return PatchResult(None, err.reason)
