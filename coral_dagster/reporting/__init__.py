"""Experiment report: typed model, Markdown/JSON rendering and PNG plots.

Engine layer: imports the domain and matplotlib (Agg), never dagster or torch. The
``evolution_report`` asset and ``coral report`` build an ``ExperimentReport`` and call these.
"""

from coral_dagster.reporting.plots import (
    MissingPlotData,
    available_plots,
    plot_fitness,
    plot_heldout,
    plot_pareto,
)
from coral_dagster.reporting.render import PLOT_NAMES, render_json, render_markdown
from coral_dagster.reporting.schema import (
    REPORT_SCHEMA_VERSION,
    CacheStats,
    ExperimentReport,
    GenerationStats,
    HeldoutResults,
    ParetoEntry,
)
from coral_dagster.reporting.write import draw_plots, png_data_uri, write_report

__all__ = [
    "PLOT_NAMES",
    "REPORT_SCHEMA_VERSION",
    "CacheStats",
    "ExperimentReport",
    "GenerationStats",
    "HeldoutResults",
    "MissingPlotData",
    "ParetoEntry",
    "available_plots",
    "draw_plots",
    "plot_fitness",
    "plot_heldout",
    "plot_pareto",
    "png_data_uri",
    "render_json",
    "render_markdown",
    "write_report",
]
