"""PNG plots and the report folder: valid, non-trivial images; missing data is explicit."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from coral_dagster.reporting import (
    ExperimentReport,
    GenerationStats,
    MissingPlotData,
    available_plots,
    plot_fitness,
    plot_heldout,
    plot_pareto,
    render_markdown,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the magic bytes."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path} is not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _assert_real_png(path: Path) -> None:
    width, height = _png_size(path)
    assert width >= 300 and height >= 200
    assert path.stat().st_size > 10_000  # axes, labels and data, not an empty canvas


@pytest.mark.parametrize("plot", [plot_fitness, plot_pareto, plot_heldout])
def test_plots_write_valid_pngs(full_report: ExperimentReport, tmp_path: Path, plot) -> None:
    target = tmp_path / "nested" / f"{plot.__name__}.png"
    assert plot(full_report, target) == target
    _assert_real_png(target)
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no temp files left


def test_pareto_plot_depends_on_chosen_objectives(full_report: ExperimentReport, tmp_path: Path):
    default = plot_pareto(full_report, tmp_path / "a.png").read_bytes()
    other = plot_pareto(full_report, tmp_path / "b.png", x="syntax", y="runtime").read_bytes()
    assert default != other


def test_pareto_plot_rejects_bad_objectives(full_report: ExperimentReport, tmp_path: Path):
    with pytest.raises(ValueError, match=r"x='speed' is not one of"):
        plot_pareto(full_report, tmp_path / "p.png", x="speed")
    with pytest.raises(ValueError, match="x and y are both 'style'"):
        plot_pareto(full_report, tmp_path / "p.png", x="style", y="style")


def test_missing_data_raises_and_available_plots_says_so(
    partial_report: ExperimentReport, full_report: ExperimentReport, tmp_path: Path
) -> None:
    assert available_plots(full_report) == ("fitness", "pareto", "heldout")
    assert available_plots(partial_report) == ("fitness",)
    with pytest.raises(MissingPlotData, match="Pareto front is empty"):
        plot_pareto(partial_report, tmp_path / "p.png")
    with pytest.raises(MissingPlotData, match="held-out evaluation has not run yet"):
        plot_heldout(partial_report, tmp_path / "h.png")
    with pytest.raises(MissingPlotData, match="no generation has a fitness yet"):
        plot_fitness(ExperimentReport(config={}), tmp_path / "f.png")
    assert not list(tmp_path.iterdir())


def test_write_report_full(full_report: ExperimentReport, tmp_path: Path) -> None:
    written = write_report(full_report, tmp_path / "report")
    assert set(written) == {"json", "markdown", "fitness", "pareto", "heldout"}
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        "fitness.png",
        "heldout.png",
        "pareto.png",
        "report.json",
        "report.md",
    ]
    for name in ("fitness", "pareto", "heldout"):
        _assert_real_png(written[name])
    md = written["markdown"].read_text()
    assert "![fitness per generation](fitness.png)" in md
    assert "![Pareto front](pareto.png)" in md
    assert "![held-out mean pass rate per method](heldout.png)" in md
    restored = ExperimentReport.from_dict(json.loads(written["json"].read_text()))
    assert restored == full_report


def test_write_report_partial_draws_only_what_exists(
    partial_report: ExperimentReport, tmp_path: Path
) -> None:
    written = write_report(partial_report, tmp_path)
    assert set(written) == {"json", "markdown", "fitness"}
    md = written["markdown"].read_text()
    assert "![fitness per generation](fitness.png)" in md
    assert "pareto.png" not in md and "heldout.png" not in md
    assert "\n## Missing\n" in md


def test_generation_without_scores_is_a_gap(full_report: ExperimentReport, tmp_path: Path):
    first, _, third = full_report.generations
    failed = GenerationStats(1, None, None, None, n_genomes=4, n_failed=4)
    report = ExperimentReport(config=full_report.config, generations=(first, failed, third))
    _assert_real_png(plot_fitness(report, tmp_path / "fitness.png"))
    assert "| g0001 | — | — | — | 4 | 4 |" in render_markdown(report)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_every_report_file_honours_the_umask(
    full_report: ExperimentReport, tmp_path: Path, umask: int
) -> None:
    """PNGs, JSON and Markdown get the mode a plain ``open(path, "w")`` gives: 0666 - umask."""
    import os

    previous = os.umask(umask)
    try:
        written = write_report(full_report, tmp_path / "report")
        plain = tmp_path / "plain.txt"
        plain.write_text("x")
    finally:
        os.umask(previous)
    expected = plain.stat().st_mode & 0o777
    assert expected == 0o666 & ~umask
    modes = {name: path.stat().st_mode & 0o777 for name, path in written.items()}
    assert modes == dict.fromkeys(written, expected)
    assert not [p for p in (tmp_path / "report").iterdir() if p.name.startswith(".")]
