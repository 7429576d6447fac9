"""``coral evolve``, ``coral status``, ``coral backfill`` and ``coral retry-failed``: drive and
inspect an evolution."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from coral_dagster.orchestration.home import Home

HOME_OPTION = click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".coral"),
    show_default=True,
    help="Experiment home: Dagster instance (DAGSTER_HOME), artifact store, caches.",
)


def open_home(home: Path) -> Home:
    """The home of an existing experiment (a one-line error when it holds none)."""
    from coral_dagster.orchestration.home import Home

    coral_home = Home(home.resolve())
    if not coral_home.config_path.exists():
        raise click.ClickException(f"{home} holds no experiment (run `coral evolve` first)")
    return coral_home


def check_artifacts(coral_home: Home, instance: DagsterInstance) -> None:
    """Refuse (one line naming the file and the repair) when a materialized partition's
    artifact is missing or fails verification."""
    from coral_dagster.orchestration.facts import done_steps
    from coral_dagster.orchestration.integrity import inspect_store

    line = inspect_store(instance, coral_home.store(), done_steps(instance)).summary()
    if line is not None:
        raise click.ClickException(line)


def quiet_libraries() -> None:
    """Keep the console to CORAL's progress lines: no per-load progress bars or library
    deprecation chatter (Dagster's own logs still go to the instance and the UI)."""
    import transformers

    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning)
    # PEFT warns whenever the active adapter is deleted, which is what the generator does after
    # each batch (the adapters are loaded for that batch only); nothing is wrong.
    warnings.filterwarnings(
        "ignore",
        message=r"Adapter \S+ was active which is now deleted\.",
        category=UserWarning,
    )


@click.command()
@click.option(
    "--config",
    "config_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Experiment YAML.",
)
@HOME_OPTION
@click.option(
    "--retry-failed",
    is_flag=True,
    help="First give failed steps fresh attempts, genomes recorded as failed in the latest "
    "generation included (see `coral retry-failed`).",
)
def evolve(config_file: Path, home: Path, retry_failed: bool) -> None:
    """Run the evolution to the end (resumes a killed run; does no work when finished)."""
    from coral_dagster.definitions import build_defs
    from coral_dagster.orchestration.driver import EvolutionFailed, run_evolution
    from coral_dagster.orchestration.home import prepare_home
    from coral_dagster.pipeline.records import HeldoutResult

    quiet_libraries()

    coral_home = prepare_home(config_file, home)  # a bad config or home: one line (CoralGroup)
    try:
        plan = run_evolution(
            coral_home, build_defs(coral_home.path), echo=click.echo, retry_failed=retry_failed
        )
    except EvolutionFailed as err:
        raise click.ClickException(f"evolution stopped: {err}") from err
    result = coral_home.store().read_record(HeldoutResult, plan.generation)
    click.echo("\nbest genomes of the final generation (held-out test split):")
    for genome in result.top_genomes:
        click.echo(f"  {genome.genome_key[:16]}  validation fitness {genome.fitness:.3f}")
    click.echo(f"\n{'method':32} {'fixed':>7} {'mean pass rate [95% CI]':>28} {'pass@1':>7}")
    for s in result.summaries:
        lo, hi = s.mean_pass_rate_ci
        click.echo(
            f"{s.method:32} {len(s.fully_fixed_problems):>3}/{s.n_problems:<3} "
            f"{s.mean_pass_rate:>10.3f} [{lo:.3f}, {hi:.3f}]      {s.pass_at_1:>7.3f}"
        )
    for c in result.comparisons:
        click.echo(f"  - {c.sentence}")


@click.command()
@HOME_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def status(home: Path, as_json: bool) -> None:
    """Per generation: genomes done/failed/pending, adapter cache hits, best and mean fitness."""
    from coral_dagster.orchestration.status import experiment_status

    coral_home = open_home(home)
    instance = coral_home.instance()
    check_artifacts(coral_home, instance)
    rows = experiment_status(instance, coral_home.store())
    if as_json:
        click.echo(json.dumps(rows, indent=1, sort_keys=True))
        return
    click.echo(
        f"{'gen':6} {'done':>5} {'failed':>6} {'pending':>7} {'new':>7} {'hit rate':>8} "
        f"{'best':>6} {'mean':>6}"
    )
    for r in rows:
        best = "-" if r["best_fitness"] is None else f"{r['best_fitness']:.3f}"
        mean = "-" if r["mean_fitness"] is None else f"{r['mean_fitness']:.3f}"
        click.echo(
            f"{r['partition']:6} {r['done']:>5} {r['failed']:>6} {r['pending']:>7} "
            f"{r['adapters_new']:>7} {r['cache_hit_rate']:>8.0%} {best:>6} {mean:>6}"
        )


@click.command()
@click.option("--generation", "generation", required=True, type=int, help="Generation index.")
@HOME_OPTION
def backfill(generation: int, home: Path) -> None:
    """Launch a Dagster backfill of a generation's missing or failed partitions."""
    from coral_dagster.orchestration.backfill import BackfillError, launch_generation_backfill
    from coral_dagster.pipeline.inputs import experiment_id

    coral_home = open_home(home)
    instance = coral_home.instance()
    check_artifacts(coral_home, instance)
    try:
        launched = launch_generation_backfill(
            instance,
            coral_home.store(),
            generation,
            experiment_id(coral_home.config()),
            coral_home.path,
        )
    except BackfillError as err:
        raise click.ClickException(str(err)) from err
    for backfill in launched:
        click.echo(f"{backfill.job}: {len(backfill.partitions)} partition(s); {backfill.message}")
    if not launched:
        click.echo(f"generation {generation}: nothing missing or failed")
    else:
        click.echo("the daemon in `dagster dev` runs it (open the Backfills tab)")


@click.command("retry-failed")
@HOME_OPTION
def retry_failed(home: Path) -> None:
    """Give failed steps fresh attempts on this home, genomes recorded as failed (fitness 0) in
    the latest generation included. Recorded in the Dagster instance: the next `coral evolve`
    or tick of evolution_sensor retries them."""
    from coral_dagster.orchestration.retry import retry_failed_steps
    from coral_dagster.orchestration.runs import fail_orphaned_runs
    from coral_dagster.pipeline.inputs import experiment_id

    coral_home = open_home(home)
    instance = coral_home.instance()
    eid = experiment_id(coral_home.config())
    for run_id in fail_orphaned_runs(instance, eid):
        click.echo(f"marked run {run_id} of a dead driver as failed")
    click.echo(retry_failed_steps(instance, coral_home.store(), eid).summary())
    click.echo("`coral evolve` (or the evolution_sensor) runs them again")
