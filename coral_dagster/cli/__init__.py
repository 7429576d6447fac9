"""The ``coral`` command line. Each sub-command lives in its own module and registers here."""

from __future__ import annotations

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="coral-dagster")
def main() -> None:
    """CORAL: evolve cellular-automaton + LoRA genomes for automated program repair on Dagster."""


# Sub-commands (one module each) are attached below.

from coral_dagster.cli.population import register as _register_population  # noqa: E402

_register_population(main)

from coral_dagster.cli.evolve import backfill, evolve, status  # noqa: E402

main.add_command(evolve)
main.add_command(status)
main.add_command(backfill)

from coral_dagster.cli.report import report  # noqa: E402

main.add_command(report)

from coral_dagster.cli.ui import ui  # noqa: E402

main.add_command(ui)

from coral_dagster.cli.evaluate import register as _register_evaluate  # noqa: E402

_register_evaluate(main)
