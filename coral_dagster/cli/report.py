"""``coral report``: the experiment report of a home, finished or not."""

from __future__ import annotations

from pathlib import Path

import click

from coral_dagster.cli.evolve import HOME_OPTION


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
    from coral_dagster.orchestration.home import Home
    from coral_dagster.orchestration.run_timings import read_run_timings
    from coral_dagster.pipeline.inputs import experiment_id
    from coral_dagster.pipeline.report import build_experiment_report
    from coral_dagster.reporting import draw_plots, render_json, render_markdown

    coral_home = Home(home.resolve())
    if not coral_home.config_path.exists():
        raise click.ClickException(f"{home} holds no experiment (run `coral evolve` first)")
    if fmt == "csv":
        from coral_dagster.pipeline.statistics import genome_table

        table = genome_table(coral_home.store())
        if out is None:
            click.echo(table.to_csv(index=False), nl=False)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            table.to_csv(out, index=False)
            click.echo(f"wrote {out} ({len(table)} rows)")
        return
    config = coral_home.config()
    runs = read_run_timings(coral_home.instance(), experiment_id(config))
    experiment_report = build_experiment_report(coral_home.store(), config, runs)
    if out is None:
        click.echo(
            render_json(experiment_report) if fmt == "json" else render_markdown(experiment_report)
        )
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "json":
        text = render_json(experiment_report)
    else:
        plots = draw_plots(experiment_report, out.parent, prefix=f"{out.stem}-")
        text = render_markdown(experiment_report, {n: p.name for n, p in plots.items()})
    out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    click.echo(f"wrote {out}")
    for line in experiment_report.missing:
        click.echo(f"missing: {line}")
