"""``coral report``: the experiment report of a home, finished or not."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import click

from coral_dagster.cli.evolve import HOME_OPTION, check_artifacts, open_home


@click.command()
@HOME_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["md", "json", "csv"]),
    default="md",
    show_default=True,
    help="Markdown or JSON report, or CSV: the statistics table (a row per genome slot).",
)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write to this file instead of stdout (Markdown: the plots are written beside it "
    "as <name>-fitness.png, <name>-pareto.png, <name>-heldout.png and embedded).",
)
def report(home: Path, fmt: str, out: Path | None) -> None:
    """Report of the latest generation: fitness, Pareto front, cache, timings, held-out scores.

    An evolution that has not finished is reported as far as it got; the Missing section (the
    "missing" list in JSON) says what is not there yet, and the exit status is 0.
    """
    from coral_dagster.orchestration.run_timings import read_run_timings
    from coral_dagster.pipeline.inputs import experiment_id
    from coral_dagster.pipeline.report import build_experiment_report
    from coral_dagster.reporting import draw_plots, render_json, render_markdown

    coral_home = open_home(home)
    instance = coral_home.instance()
    check_artifacts(coral_home, instance)
    if fmt == "csv":
        from coral_dagster.pipeline.statistics import genome_table

        table = genome_table(coral_home.store())
        if out is None:
            click.echo(table.to_csv(index=False), nl=False)
            return
        with written(out) as tmp:
            table.to_csv(tmp, index=False)
        click.echo(f"wrote {out} ({len(table)} rows)")
        return
    config = coral_home.config()
    runs = read_run_timings(instance, experiment_id(config))
    experiment_report = build_experiment_report(coral_home.store(), config, runs)
    if out is None:
        click.echo(
            render_json(experiment_report) if fmt == "json" else render_markdown(experiment_report)
        )
        return
    if fmt == "json":
        text = render_json(experiment_report)
    else:
        with scratch_dir(out) as tmp_dir:
            plots = draw_plots(experiment_report, tmp_dir, prefix=f"{out.stem}-")
            for plot in plots.values():
                with written(out.parent / plot.name) as tmp:
                    shutil.copyfile(plot, tmp)
        text = render_markdown(experiment_report, {n: p.name for n, p in plots.items()})
    with written(out) as tmp:
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    click.echo(f"wrote {out}")
    for line in experiment_report.missing:
        click.echo(f"missing: {line}")


@contextlib.contextmanager
def written(target: Path) -> Iterator[Path]:
    """A temporary path beside ``target``, renamed onto it when the block succeeds and removed
    when it fails: a full disk never leaves a truncated file under the target's name. An
    ``OSError`` becomes one line naming the target."""
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        yield tmp
        tmp.rename(target)
    except OSError as err:
        raise click.ClickException(f"cannot write {target}: {err.strerror or err}") from None
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def scratch_dir(out: Path) -> Iterator[Path]:
    """A temporary directory for drawing the plots (an ``OSError`` names ``out``)."""
    try:
        with tempfile.TemporaryDirectory(prefix="coral-report-") as tmp:
            yield Path(tmp)
    except OSError as err:
        raise click.ClickException(f"cannot write {out}: {err.strerror or err}") from None
