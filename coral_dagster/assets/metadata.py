"""Markdown and numbers for the Dagster UI: a genome's generated code, verdicts, genes, knobs and
generations; the report's plots; the held-out pass rates.

The UI shows a Markdown entry inline when it is shorter than 1000 characters and behind a
"[Show Markdown]" button (one click) otherwise, so each problem's code and each plot is an entry
of its own. Numeric entries with the same key on every partition become the asset's plots.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterable, Sequence

from coral_dagster.domain.genome import CheapKnobs, HeavyGenes
from coral_dagster.domain.heldout import MethodSummary
from coral_dagster.domain.planner import generation_key
from coral_dagster.pipeline.records import PatchOutput, Scores

MAX_CODE_LINES = 40
MAX_DETAIL_CHARS = 120
MAX_REASON_CHARS = 300
RAW_WIDTH = 72  # an answer without a program is wrapped: a table cell does not scroll


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell (one line, no pipes), shortened."""
    text = " ".join(str(text).split()).replace("|", "\\|")
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 3] + "..."


def problem_code_markdown(output: PatchOutput) -> str:
    """One problem's candidate program as a ```python block (at most ``MAX_CODE_LINES`` lines),
    or the start of the raw answer when no program could be built from it."""
    if output.program is None:
        raw = output.raw_text.strip()
        why = f"no program ({output.failure})" if output.failure else "no program"
        if not raw:
            return f"{why}: the answer was empty"
        lines = [w for line in raw.splitlines()[:8] for w in textwrap.wrap(line, RAW_WIDTH) or [""]]
        return f"{why}; the answer began:\n\n```text\n" + "\n".join(lines[:8]) + "\n```"
    lines = output.program.rstrip().splitlines()
    shown = lines[:MAX_CODE_LINES]
    if len(lines) > MAX_CODE_LINES:
        shown.append(f"# ... {len(lines) - MAX_CODE_LINES} more lines")
    return "```python\n" + "\n".join(shown) + "\n```"


def code_markdown(outputs: Sequence[PatchOutput]) -> str:
    """Every problem's code under its name (what ``problem_code_markdown`` gives per problem)."""
    return "\n\n".join(f"**{o.problem_name}**\n\n{problem_code_markdown(o)}" for o in outputs)


def code_entries(outputs: Sequence[PatchOutput]) -> dict[str, str]:
    """``code: <problem>`` -> that problem's code as Markdown, one metadata entry per problem
    (``code: <problem> #<i>`` per sample when there are several samples per problem)."""
    counts: dict[str, int] = {}
    for o in outputs:
        counts[o.problem_name] = counts.get(o.problem_name, 0) + 1
    entries, seen = {}, dict.fromkeys(counts, 0)
    for o in outputs:
        key = f"code: {o.problem_name}"
        if counts[o.problem_name] > 1:
            key = f"{key} #{seen[o.problem_name]}"
            seen[o.problem_name] += 1
        entries[key] = problem_code_markdown(o)
    return entries


def _first_failure(result) -> str:
    failing = next((t for t in result.tests if t.verdict != "pass"), None)
    if failing is None:
        return ""
    return ": ".join(x for x in (failing.error_type or failing.verdict, failing.detail) if x)


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
            error = _cell(_first_failure(result))
        rows.append(
            f"| {result.problem} | {result.passed}/{result.total} | {first} | {error or '-'} |"
        )
    return "\n".join(rows)


def score_reason(scores: Scores) -> str:
    """Why a genome scored what it did: the recorded reason of a failed genome; for a genome that
    passed no test, each problem's first error (problems with the same error grouped); ``-``
    when tests passed."""
    if scores.failed:
        return scores.reason or "recorded as failed (no reason stored)"
    if scores.passed > 0 and scores.fitness > 0:
        return "-"
    if not scores.results:
        return "no test was run: no validation problem has results"
    by_error: dict[str, list[str]] = {}
    for result in scores.results:
        error = _first_failure(result) or f"{result.passed}/{result.total} tests passed"
        by_error.setdefault(" ".join(error.split()), []).append(result.problem)
    parts = [f"{', '.join(problems)}: {error}" for error, problems in by_error.items()]
    prefix = "no test passed" if scores.passed == 0 else "fitness 0"
    reason = f"{prefix} ({scores.passed}/{scores.total}); " + "; ".join(parts)
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    return reason


def genes_text(genes: HeavyGenes) -> str:
    """``dora, rank 4, alpha 8, dropout 0, lr 0.001, modules k_proj o_proj q_proj v_proj``."""
    return (
        f"{genes.adapter_type}, rank {genes.rank}, alpha {genes.alpha:g}, "
        f"dropout {genes.dropout:g}, lr {genes.learning_rate:g}, "
        f"modules {' '.join(genes.target_modules)}"
    )


def knobs_text(knobs: CheapKnobs) -> str:
    """``sampling, temperature 1.14, top_p 0.86, top_k 89, repetition 1.24, max 16 tokens``."""
    decoding = (
        f"sampling, temperature {knobs.temperature:.2f}, top_p {knobs.top_p:.2f}, "
        f"top_k {knobs.top_k}"
        if knobs.do_sample
        else "greedy"
    )
    return (
        f"{decoding}, repetition penalty {knobs.repetition_penalty:.2f}, "
        f"max {knobs.max_new_tokens} new tokens"
    )


def generations_text(generations: Iterable[int]) -> str:
    """``g0000, g0001``: every generation a genome appears in."""
    return ", ".join(generation_key(g) for g in sorted(set(generations)))


def plot_markdown(title: str, data_uri: str) -> str:
    """A plot as Markdown (an inline PNG): one click on its entry opens it in the UI."""
    return f"![{title}]({data_uri})"


def _evolved_rank(method: str) -> int | None:
    """``evolved #2 (ab12cd34)`` -> 2; None for a baseline."""
    found = re.match(r"evolved #(\d+)\b", method)
    return int(found.group(1)) if found else None


def method_slug(method: str) -> str:
    """``base + evolved knobs`` -> ``base_evolved_knobs``; the best evolved genome
    (``evolved #1 (...)``) -> ``best_evolved``."""
    if _evolved_rank(method) == 1:
        return "best_evolved"
    return re.sub(r"[^a-z0-9]+", "_", method.lower()).strip("_")


def heldout_pass_rates(summaries: Sequence[MethodSummary]) -> dict[str, float]:
    """``pass_rate_<method>`` -> mean held-out pass rate, for the best evolved genome and each
    baseline (the same keys on every partition, so the UI plots them); other evolved genomes
    are in the methods table only."""
    rates = {}
    for summary in summaries:
        if _evolved_rank(summary.method) not in (None, 1):
            continue
        rates[f"pass_rate_{method_slug(summary.method)}"] = float(summary.mean_pass_rate)
    return rates
