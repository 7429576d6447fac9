"""PNG plots of an ``ExperimentReport`` (matplotlib's Agg renderer, no pyplot global state).

Each function draws one figure and writes it atomically (temp file in the same folder, then
rename), creating the parent folder, and returns the path. A plot whose data does not exist yet
raises ``MissingPlotData`` (a ``ValueError``) naming what is missing; ``available_plots`` says
beforehand which plots a report can have, so callers only plot what exists.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from coral_dagster.domain.config import OBJECTIVES
from coral_dagster.reporting.atomic import write_atomically
from coral_dagster.reporting.render import KEY_CHARS
from coral_dagster.reporting.schema import ExperimentReport


class MissingPlotData(ValueError):
    """The report lacks the data a plot needs (e.g. held-out scores not computed yet)."""


def available_plots(report: ExperimentReport) -> tuple[str, ...]:
    """Names of the plots ``report`` has data for: some of ``fitness``, ``pareto``, ``heldout``."""
    names = []
    if any(g.best_fitness is not None for g in report.generations):
        names.append("fitness")
    if report.pareto_front:
        names.append("pareto")
    if report.heldout is not None:
        names.append("heldout")
    return tuple(names)


def _save(fig: Figure, path: str | os.PathLike[str]) -> Path:
    """Write ``fig`` as PNG to ``path`` atomically; return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    return write_atomically(
        path,
        lambda handle: fig.savefig(handle, format="png", dpi=110, bbox_inches="tight"),
        binary=True,
    )


def plot_fitness(report: ExperimentReport, path: str | os.PathLike[str]) -> Path:
    """Best and mean fitness per generation (generations without scores are left as gaps)."""
    scored = [g for g in report.generations if g.best_fitness is not None]
    if not scored:
        raise MissingPlotData("fitness plot: no generation has a fitness yet")
    gens = [g.generation for g in report.generations]
    best = [np.nan if g.best_fitness is None else g.best_fitness for g in report.generations]
    mean = [np.nan if g.mean_fitness is None else g.mean_fitness for g in report.generations]
    fig = Figure(figsize=(6.0, 3.6))
    ax = fig.add_subplot()
    ax.plot(gens, best, marker="o", label="best fitness")
    ax.plot(gens, mean, marker="s", linestyle="--", label="mean fitness")
    ax.set_xlabel("generation")
    ax.set_ylabel("fitness")
    ax.set_xticks(gens)
    ax.set_title(f"{report.name}: fitness per generation")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="best")
    return _save(fig, path)


def plot_pareto(
    report: ExperimentReport, path: str | os.PathLike[str], x: str = "bugfix", y: str = "style"
) -> Path:
    """The Pareto front projected on objectives ``x`` and ``y``, coloured by fitness.

    Points are labelled with the first ``KEY_CHARS`` characters of their genome key, as in the
    Markdown table. In two of the five
    objectives some front members can look dominated: they win on the objectives not shown.
    """
    for axis, objective in (("x", x), ("y", y)):
        if objective not in OBJECTIVES:
            raise ValueError(f"Pareto plot: {axis}={objective!r} is not one of {OBJECTIVES}")
    if x == y:
        raise ValueError(f"Pareto plot: x and y are both {x!r}; choose two objectives")
    if not report.pareto_front:
        raise MissingPlotData("Pareto plot: the Pareto front is empty")
    xs = [p.objectives[x] for p in report.pareto_front]
    ys = [p.objectives[y] for p in report.pareto_front]
    fitness = [p.fitness for p in report.pareto_front]
    fig = Figure(figsize=(6.0, 4.4))
    ax = fig.add_subplot()
    points = ax.scatter(xs, ys, c=fitness, cmap="viridis", s=60, edgecolors="black")
    fig.colorbar(points, ax=ax, label="fitness")
    middle = (min(xs) + max(xs)) / 2.0
    for entry, px, py in zip(report.pareto_front, xs, ys, strict=True):
        right_half = px > middle  # label towards the plot's centre so it stays inside
        ax.annotate(
            entry.genome_key[:KEY_CHARS],
            (px, py),
            textcoords="offset points",
            xytext=(-5 if right_half else 5, 4),
            ha="right" if right_half else "left",
            fontsize=7,
        )
    ax.margins(0.15)
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.set_title(f"{report.name}: Pareto front ({len(xs)} genomes)")
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_heldout(report: ExperimentReport, path: str | os.PathLike[str]) -> Path:
    """Held-out mean pass rate per method, with its bootstrap CI as error bars."""
    if report.heldout is None:
        raise MissingPlotData("held-out plot: held-out evaluation has not run yet")
    summaries = report.heldout.summaries
    names = [s.method for s in summaries]
    means = np.array([s.mean_pass_rate for s in summaries])
    lows = np.array([s.mean_pass_rate_ci[0] for s in summaries])
    highs = np.array([s.mean_pass_rate_ci[1] for s in summaries])
    errors = np.vstack([np.clip(means - lows, 0, None), np.clip(highs - means, 0, None)])
    levels = sorted({s.level for s in summaries})
    level = f"{levels[0] * 100:g}% CI" if len(levels) == 1 else "CI"
    fig = Figure(figsize=(max(4.0, 1.3 * len(names) + 2.0), 3.8))
    ax = fig.add_subplot()
    positions = np.arange(len(names))
    ax.bar(positions, means, yerr=errors, capsize=6, color="tab:blue", alpha=0.8)
    ax.set_xticks(positions, names, rotation=15 if len(names) > 3 else 0)
    ax.set_ylim(0.0, 1.05)
    ax.set_ylabel(f"mean pass rate ({level})")
    ax.set_title(f"{report.name}: held-out mean pass rate")
    ax.grid(True, axis="y", alpha=0.3)
    return _save(fig, path)
