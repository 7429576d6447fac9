"""``coral ui``: the Dagster UI (``dagster dev``: webserver and daemon) on an experiment home."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from coral_dagster.cli.evolve import HOME_OPTION


def ui_command(home: Path, host: str, port: int) -> tuple[list[str], dict[str, str]]:
    """The ``dagster dev`` command line and environment for a prepared ``home``."""
    from coral_dagster.orchestration.home import Home

    coral_home = Home(home.resolve())
    argv = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(coral_home.workspace_path),
        "-h",
        host,
        "-p",
        str(port),
    ]
    env = {
        **os.environ,
        "CORAL_HOME": str(coral_home.path),
        "DAGSTER_HOME": str(coral_home.dagster_home),
    }
    return argv, env


@click.command()
@HOME_OPTION
@click.option("--port", type=int, default=3000, show_default=True, help="Port of the web UI.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--config",
    "config_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Record this experiment config in a new home (as `coral evolve --config` would).",
)
def ui(home: Path, port: int, host: str, config_file: Path | None) -> None:
    """Open the Dagster UI on an experiment home: asset graph, partitions, runs, reports.

    Prepares the home (its `dagster/` folder, `dagster.yaml`, `workspace.yaml`) and runs
    `dagster dev` on it: the webserver plus the daemon that runs `evolution_sensor` and
    backfills. Ctrl-C stops both.
    """
    from coral_dagster.domain.config import ConfigError
    from coral_dagster.orchestration.home import (
        Home,
        HomeMismatch,
        experiment_config_path,
        prepare_home,
    )

    coral_home = Home(home.resolve())
    if config_file is not None:
        try:
            prepare_home(config_file, coral_home.path)
        except (ConfigError, HomeMismatch) as err:
            raise click.ClickException(str(err)) from err
    coral_home.path.mkdir(parents=True, exist_ok=True)
    coral_home.prepare_dagster_home()
    if not coral_home.config_path.exists():
        click.echo(
            f"{coral_home.path} holds no experiment yet: the UI uses "
            f"{experiment_config_path(coral_home.path)} (CORAL_CONFIG); "
            "`coral evolve --config FILE --home DIR` or `coral ui --config FILE` records one"
        )
    argv, env = ui_command(coral_home.path, host, port)
    click.echo(f"Dagster UI for {coral_home.path} on http://{host}:{port} (Ctrl-C stops it)")
    sys.stdout.flush()
    os.execve(argv[0], argv, env)
