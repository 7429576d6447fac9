"""Markdown for the Dagster UI: a genome's generated code and its per-problem verdicts."""

from __future__ import annotations

from collections.abc import Sequence

from coral_dagster.pipeline.records import PatchOutput, Scores

MAX_CODE_LINES = 40
MAX_DETAIL_CHARS = 120


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (one line, no pipes), shortened."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 3] + "..."


def code_markdown(outputs: Sequence[PatchOutput]) -> str:
    """Each problem's candidate program as a ```python block (at most ``MAX_CODE_LINES`` lines
    each), or the start of the raw answer when no program could be built from it."""
    parts = []
    for output in outputs:
        parts.append(f"**{output.problem_name}**")
        if output.program is None:
            raw = output.raw_text.strip().splitlines()[:8]
            parts.append(
                "no program in the answer; it began:\n\n```text\n" + "\n".join(raw) + "\n```"
            )
            continue
        lines = output.program.rstrip().splitlines()
        shown = lines[:MAX_CODE_LINES]
        if len(lines) > MAX_CODE_LINES:
            shown.append(f"# ... {len(lines) - MAX_CODE_LINES} more lines")
        parts.append("```python\n" + "\n".join(shown) + "\n```")
    return "\n\n".join(parts)


def verdicts_markdown(scores: Scores) -> str:
    """A table per problem: tests passed / total, the first failing test and its error."""
    if scores.failed:
        return f"Recorded as failed: {_cell(scores.reason)}"
    rows = ["| problem | passed | first failing test | error |", "|---|---|---|---|"]
    for result in scores.results:
        failing = next((t for t in result.tests if t.verdict != "pass"), None)
        if failing is None:
            first, error = "-", "-"
        else:
            first = f"#{failing.index} ({failing.verdict})"
            error = _cell(" ".join(x for x in (failing.error_type or "", failing.detail) if x))
        rows.append(
            f"| {result.problem} | {result.passed}/{result.total} | {first} | {error or '-'} |"
        )
    return "\n".join(rows)
