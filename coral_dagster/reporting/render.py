"""Render an ``ExperimentReport`` as Markdown (for people, the Dagster UI) or JSON (for tools).

Markdown sections, in order: summary line, fitness per generation, Pareto front, adapter cache,
stage timings, held-out evaluation (methods table, plain-language comparisons, notes), Missing
(only when something is), configuration (YAML). An empty part renders one line saying so.
JSON is ``report.to_dict()`` with sorted keys, so the same report always gives the same text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from coral_dagster.domain.config import OBJECTIVES
from coral_dagster.domain.heldout import best_method
from coral_dagster.reporting.schema import ExperimentReport

PLOT_NAMES: tuple[str, ...] = ("fitness", "pareto", "heldout")
KEY_CHARS = 12  # hex characters of a content key shown in tables
_DASH = "—"


def render_json(report: ExperimentReport) -> str:
    """The report as JSON: sorted keys, 2-space indent, no NaN, trailing newline."""
    return json.dumps(report.to_dict(), sort_keys=True, indent=2, allow_nan=False) + "\n"


def _cell(value: Any) -> str:
    """Table cell text: pipes escaped, newlines flattened."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(
    header: Sequence[str], rows: Iterable[Sequence[Any]], text_columns: Iterable[int] = (0,)
) -> str:
    """A Markdown table; ``text_columns`` (indices) are left-aligned, the rest right-aligned."""
    left = set(text_columns)
    align = [":---" if i in left else "---:" for i in range(len(header))]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _num(value: float | None, digits: int = 3) -> str:
    return _DASH if value is None else f"{value:.{digits}f}"


def _key(key: str) -> str:
    return f"`{key[:KEY_CHARS]}`"


def _plain(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _params(params: Mapping[str, Any]) -> str:
    """``name=value`` pairs in key order (lists joined with ``+``)."""
    return ", ".join(f"{name}={_plain(params[name])}" for name in sorted(params))


def _ci(low_high: tuple[float, float]) -> str:
    return f"[{low_high[0]:.3f}, {low_high[1]:.3f}]"


def _image(images: Mapping[str, str], name: str, alt: str) -> list[str]:
    return [f"![{alt}]({images[name]})", ""] if name in images else []


def _summary_line(report: ExperimentReport) -> str:
    parts = []
    scored = [g for g in report.generations if g.best_fitness is not None]
    if report.generations:
        first, last = report.generations[0], report.generations[-1]
        parts.append(f"{len(report.generations)} generations ({first.label} to {last.label})")
    if scored:
        best = max(scored, key=lambda g: (g.best_fitness, -g.generation))
        parts.append(f"best fitness {best.best_fitness:.3f} in {best.label}")
    if report.pareto_front:
        parts.append(f"{len(report.pareto_front)} genomes on the Pareto front")
    if report.heldout is not None:
        top = best_method(report.heldout.summaries)
        parts.append(f"best held-out method {top.method} (mean pass rate {top.mean_pass_rate:.3f})")
    return ("; ".join(parts) + ".") if parts else "Nothing has been evaluated yet."


def _generations_section(report: ExperimentReport, images: Mapping[str, str]) -> list[str]:
    lines = ["## Fitness per generation", ""]
    if not report.generations:
        return [*lines, "_No generation has been scored yet._", ""]
    rows = [
        (
            g.label,
            _num(g.best_fitness),
            _num(g.mean_fitness),
            _num(g.diversity),
            g.n_genomes,
            g.n_failed,
        )
        for g in report.generations
    ]
    header = ("generation", "best fitness", "mean fitness", "diversity", "genomes", "failed")
    return [*lines, _table(header, rows), "", *_image(images, "fitness", "fitness per generation")]


def _pareto_section(report: ExperimentReport, images: Mapping[str, str]) -> list[str]:
    lines = ["## Pareto front", ""]
    if not report.pareto_front:
        return [*lines, "_No scored genomes yet._", ""]
    front = sorted(report.pareto_front, key=lambda p: (-p.fitness, p.genome_key))
    header = ("genome", "adapter", *OBJECTIVES, "fitness", "genes", "knobs")
    rows = [
        (
            _key(p.genome_key),
            _key(p.adapter_key),
            *(_num(p.objectives[o]) for o in OBJECTIVES),
            _num(p.fitness),
            _params(p.genes),
            _params(p.knobs),
        )
        for p in front
    ]
    text_columns = (0, 1, len(header) - 2, len(header) - 1)
    return [
        *lines,
        "Sorted by fitness; keys shortened to their first "
        f"{KEY_CHARS} characters (full keys in the JSON report).",
        "",
        _table(header, rows, text_columns),
        "",
        *_image(images, "pareto", "Pareto front"),
    ]


def _cache_section(report: ExperimentReport) -> list[str]:
    lines = ["## Adapter cache", ""]
    cache = report.cache
    if cache is None:
        return [*lines, "_Not recorded yet._", ""]
    row = (
        cache.adapters_trained,
        cache.adapters_reused,
        f"{cache.hit_rate:.1%}",
        f"{cache.compute_seconds_saved:,.1f}",
    )
    header = ("adapters trained", "adapters reused", "hit rate", "compute saved (s)")
    return [*lines, _table(header, [row], text_columns=()), ""]


def _stages_section(report: ExperimentReport) -> list[str]:
    lines = ["## Stage timings", ""]
    if not report.stage_seconds:
        return [*lines, "_Not recorded yet._", ""]
    total = sum(report.stage_seconds.values())
    stages = sorted(report.stage_seconds.items(), key=lambda item: (-item[1], item[0]))
    rows = [
        (stage, f"{seconds:,.1f}", f"{seconds / total:.1%}" if total > 0 else _DASH)
        for stage, seconds in stages
    ]
    rows.append(("**total**", f"**{total:,.1f}**", "100.0%" if total > 0 else _DASH))
    return [*lines, _table(("stage", "seconds", "share"), rows), ""]


PATCH_FORMATS = {
    "function": "the model rewrites the whole buggy function",
    "line": "the model answers with only the replacement of the marked line(s)",
    "edit": "the model ranks every single mechanical edit of the marked line(s) and the genome's "
    "knobs draw from that ranking",
}
LOCALIZATIONS = {
    "oracle": "Oracle fault localisation: the line(s) to change are given, computed by diffing "
    'the buggy and the correct program (the "perfect fault localisation" setting of APR '
    "papers); a tool that must find the line itself would score lower.",
    "none": "No fault localisation: the model must also name the line to change.",
}


DISTINCT_DRAWS = (
    "Draws without replacement (`patch.draws: distinct`): no candidate is tried twice for a "
    "problem while the knobs' pool lasts."
)
PASS_AT_K = (
    "pass@k: unbiased estimator (Chen et al. 2021) of the chance that k independent samples hold "
    "a fix."
)
PASS_AT_K_DISTINCT = (
    "pass@k: the same formula over the n drawn candidates, which are distinct here: for k < n "
    "it is the chance that k of them picked at random hold a fix (pass@1: the fraction that "
    "fix), not that of k independent samples; pass@n and fully fixed count the whole budget."
)


def patch_setting(config: Mapping[str, Any]) -> str:
    """How patches were made (``patch.format``, ``patch.localization``, ``patch.draws``)."""
    patch = config.get("patch", {})
    fmt = patch.get("format", "function")
    sentence = f"Patches (`{fmt}`): {PATCH_FORMATS[fmt]}."
    if fmt != "function":
        sentence += " " + LOCALIZATIONS[patch.get("localization", "oracle")]
    if patch.get("draws") == "distinct":
        sentence += " " + DISTINCT_DRAWS
    return sentence


def _heldout_section(report: ExperimentReport, images: Mapping[str, str]) -> list[str]:
    lines = ["## Held-out evaluation", ""]
    heldout = report.heldout
    if heldout is None:
        return [*lines, "_Not run yet._", ""]
    ks = sorted({k for s in heldout.summaries for k in s.pass_at_k} - {1})
    levels = sorted({s.level for s in heldout.summaries})
    level = f"{levels[0] * 100:g}%" if len(levels) == 1 else "CI"
    header = (
        "method",
        "problems",
        "fully fixed",
        "mean pass rate",
        f"{level} CI",
        "pass@1",
        f"{level} CI",
        *(f"pass@{k}" for k in ks),
    )
    rows = [
        (
            s.method,
            s.n_problems,
            s.problems_fully_fixed,
            _num(s.mean_pass_rate),
            _ci(s.mean_pass_rate_ci),
            _num(s.pass_at_1),
            _ci(s.pass_at_1_ci),
            *(_num(s.pass_at_k.get(k)) for k in ks),
        )
        for s in heldout.summaries
    ]
    lines += [
        patch_setting(report.config),
        "",
        "Mean pass rate: mean over problems of the mean fraction of tests a sample passes. "
        "Fully fixed: problems whose best sample passes all tests. "
        + (
            PASS_AT_K_DISTINCT
            if report.config.get("patch", {}).get("draws") == "distinct"
            else PASS_AT_K
        )
        + " CIs: percentile bootstrap over problems.",
        "",
        _table(header, rows),
        "",
        *_image(images, "heldout", "held-out mean pass rate per method"),
    ]
    if heldout.comparisons:
        lines += ["### Comparisons (paired bootstrap over the same problems)", ""]
        lines += [f"- {c.sentence}" for c in heldout.comparisons]
        lines.append("")
    notes = [f"{s.method}: {note}" for s in heldout.summaries for note in s.notes]
    if notes:
        lines += ["### Notes", "", *(f"- {n}" for n in notes), ""]
    return lines


def render_markdown(report: ExperimentReport, images: Mapping[str, str] | None = None) -> str:
    """The report as Markdown.

    ``images`` optionally maps a plot name (``fitness``, ``pareto``, ``heldout``) to the path or
    URL of its PNG, embedded under the matching section.
    """
    images = dict(images or {})
    unknown = sorted(set(images) - set(PLOT_NAMES))
    if unknown:
        raise ValueError(f"unknown plot names {unknown}; expected some of {list(PLOT_NAMES)}")
    lines = [
        f"# CORAL experiment report: {report.name}",
        "",
        _summary_line(report),
        "",
        *_generations_section(report, images),
        *_pareto_section(report, images),
        *_cache_section(report),
        *_stages_section(report),
        *_heldout_section(report, images),
    ]
    missing = report.missing_parts()
    if missing:
        lines += ["## Missing", "", *(f"- {m}" for m in missing), ""]
    config_yaml = yaml.safe_dump(report.config, sort_keys=True, default_flow_style=False)
    lines += ["## Configuration", "", "```yaml", config_yaml.rstrip("\n"), "```", ""]
    return "\n".join(lines)
