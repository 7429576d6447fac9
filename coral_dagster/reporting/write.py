"""Write a report folder: ``report.json``, the plots the data allows, and ``report.md``.

Plots are named ``fitness.png``, ``pareto.png`` and ``heldout.png``; only those listed by
``available_plots`` are drawn (the Markdown's Missing section says what is not there yet), and
``report.md`` embeds them by relative path. Every file is written atomically.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from coral_dagster.reporting.model import ExperimentReport
from coral_dagster.reporting.plots import available_plots, plot_fitness, plot_heldout, plot_pareto
from coral_dagster.reporting.render import render_json, render_markdown

_PLOTTERS = {"fitness": plot_fitness, "pareto": plot_pareto, "heldout": plot_heldout}


def _write_text(path: Path, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_report(report: ExperimentReport, directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the report files into ``directory`` (created if needed).

    Returns ``{"json": ..., "markdown": ..., "<plot name>": ...}`` with one entry per file written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {"json": _write_text(directory / "report.json", render_json(report))}
    for name in available_plots(report):
        written[name] = _PLOTTERS[name](report, directory / f"{name}.png")
    images = {name: f"{name}.png" for name in available_plots(report)}
    written["markdown"] = _write_text(directory / "report.md", render_markdown(report, images))
    return written
