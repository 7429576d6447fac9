"""The ``coral`` command line. Each sub-command lives in its own module and registers here."""

from __future__ import annotations

import sys

import click

from coral_dagster.domain.machine_errors import is_machine_error


def one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return "; ".join(lines) or type(err).__name__


def user_error(err: Exception) -> str | None:
    """The one-line message of a user's error (a bad config or home, a damaged artifact, a full
    or read-only disk); None for anything else (a bug keeps its traceback)."""
    from coral_dagster.domain.config import ConfigError

    if isinstance(err, ConfigError):
        return f"invalid config {err.source}: " + "; ".join(err.problems)
    # Classes of modules this command imported (a class never imported cannot have been raised).
    known = [
        getattr(sys.modules[module], name)
        for module, name in (
            ("coral_dagster.pipeline.store", "ArtifactCorrupt"),
            ("coral_dagster.pipeline.store", "ArtifactMissing"),
            ("coral_dagster.orchestration.home", "HomeError"),
        )
        if module in sys.modules
    ]
    if isinstance(err, tuple(known)):
        return one_line(err)
    if is_machine_error(err):
        where = f"{err.filename}: " if err.filename else ""
        return f"{where}{err.strerror or one_line(err)}"
    return None


class CoralGroup(click.Group):
    """The ``coral`` group: a user's error ends as one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except Exception as err:
            message = user_error(err)
            if message is None:
                raise
            raise click.ClickException(message) from None


@click.group(cls=CoralGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="coral-dagster")
def main() -> None:
    """CORAL: evolve cellular-automaton + LoRA genomes for automated program repair on Dagster."""


# Sub-commands (one module each) are attached below.

from coral_dagster.cli.population import register as _register_population  # noqa: E402

_register_population(main)

from coral_dagster.cli.evolve import backfill, evolve, retry_failed, status  # noqa: E402

main.add_command(evolve)
main.add_command(status)
main.add_command(backfill)
main.add_command(retry_failed)

from coral_dagster.cli.report import report  # noqa: E402

main.add_command(report)

from coral_dagster.cli.ui import ui  # noqa: E402

main.add_command(ui)

from coral_dagster.cli.evaluate import register as _register_evaluate  # noqa: E402

_register_evaluate(main)
