"""Write a report folder: ``report.json``, the plots the data allows, and ``report.md``.

Plots are named ``fitness.png``, ``pareto.png`` and ``heldout.png``; only those listed by
``available_plots`` are drawn (the Markdown's Missing section says what is not there yet), and
``report.md`` embeds them by relative path. Every file is written atomically.
``png_data_uri`` turns a plot into a ``data:image/png;base64,...`` URI for Markdown that must
carry its images inline (Dagster materialization metadata).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from coral_dagster.reporting.atomic import write_atomically
from coral_dagster.reporting.plots import available_plots, plot_fitness, plot_heldout, plot_pareto
from coral_dagster.reporting.render import render_json, render_markdown
from coral_dagster.reporting.schema import ExperimentReport

_PLOTTERS = {"fitness": plot_fitness, "pareto": plot_pareto, "heldout": plot_heldout}


def _write_text(path: Path, text: str) -> Path:
    return write_atomically(path, lambda handle: handle.write(text))


def draw_plots(
    report: ExperimentReport, directory: str | os.PathLike[str], prefix: str = ""
) -> dict[str, Path]:
    """Draw every plot ``available_plots(report)`` lists as ``directory/<prefix><name>.png``.

    Returns ``{plot name: path}``; plots without data are not drawn (and not listed).
    """
    directory = Path(directory)
    return {
        name: _PLOTTERS[name](report, directory / f"{prefix}{name}.png")
        for name in available_plots(report)
    }


def png_data_uri(path: str | os.PathLike[str]) -> str:
    """``data:image/png;base64,<file bytes>``; the file must be a PNG (checked by its magic)."""
    data = Path(path).read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError(f"{path} is not a PNG file")
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def write_report(report: ExperimentReport, directory: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the report files into ``directory`` (created if needed).

    Returns ``{"json": ..., "markdown": ..., "<plot name>": ...}`` with one entry per file written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = {"json": _write_text(directory / "report.json", render_json(report))}
    plots = draw_plots(report, directory)
    written.update(plots)
    images = {name: path.name for name, path in plots.items()}
    written["markdown"] = _write_text(directory / "report.md", render_markdown(report, images))
    return written
