"""``coral validate-config FILE`` and ``coral population --config FILE [--json]``.

Neither runs a model. ``population`` prints generation 0 (genome key, adapter key, CA seed,
heavy genes, derived cheap knobs); its JSON output is byte-identical across runs and
processes for the same config.
"""

from __future__ import annotations

import json
import sys

import click


@click.command("validate-config")
@click.argument("file", type=click.Path(dir_okay=False))
def validate_config(file: str) -> None:
    """Check an experiment config FILE; one line per problem, non-zero exit when invalid."""
    from coral_dagster.domain.config import ConfigError, load_config

    try:
        config = load_config(file)
    except ConfigError as err:
        for problem in err.problems:
            click.echo(f"{file}: {problem}", err=True)
        sys.exit(1)
    click.echo(f"{file}: ok (experiment {config.name!r}, seed {config.seed})")


@click.command("population")
@click.option("--config", "config_file", required=True, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the genome records as JSON.")
def population(config_file: str, as_json: bool) -> None:
    """Print generation 0 of an experiment: keys, CA seeds, heavy genes and cheap knobs."""
    from coral_dagster.domain.config import ConfigError, load_config

    try:
        config = load_config(config_file)
    except ConfigError as err:
        for problem in err.problems:
            click.echo(f"{config_file}: {problem}", err=True)
        sys.exit(1)
    from coral_dagster.benchmark.problems import ProblemLoadError
    from coral_dagster.benchmark.splits import SplitError
    from coral_dagster.domain.population import initial_population
    from coral_dagster.domain.records import population_keys
    from coral_dagster.pipeline.inputs import key_context
    from coral_dagster.pipeline.records import GenomeRecord

    try:
        context = key_context(config)
    except SplitError as err:  # "invalid split:" and one indented line per culprit
        for line in str(err).splitlines()[1:]:
            click.echo(f"{config_file}: {line.strip()}", err=True)
        sys.exit(1)
    except ProblemLoadError as err:  # the message names the dataset or file
        click.echo(f"{config_file}: benchmark: {err}", err=True)
        sys.exit(1)
    except FileNotFoundError as err:  # the base model: a spec or a checkpoint directory
        click.echo(f"{config_file}: model.base_model: {err}", err=True)
        sys.exit(1)
    records = [
        GenomeRecord(gkey, akey, genome.seed, genome.genes, knobs).to_dict()
        for genome, knobs, akey, gkey in population_keys(
            initial_population(config), config, context
        )
    ]
    if as_json:
        click.echo(json.dumps(records, indent=2, sort_keys=True, ensure_ascii=True))
        return
    click.echo(f"generation 0 of {config.name!r}: {len(records)} genomes")
    for r in records:
        seed, genes, knobs = r["seed"], r["genes"], r["knobs"]
        click.echo(
            f"{r['genome_key'][:12]}  adapter {r['adapter_key'][:12]}  "
            f"{seed['rule']:<12} steps={seed['steps']:<3} "
            f"{genes['adapter_type']} r={genes['rank']} a={genes['alpha']:g} "
            f"p={genes['dropout']:g} lr={genes['learning_rate']:g} "
            f"mods={','.join(genes['target_modules'])}  "
            f"T={knobs['temperature']:g} top_p={knobs['top_p']:g} top_k={knobs['top_k']} "
            f"rep={knobs['repetition_penalty']:g} max_new={knobs['max_new_tokens']} "
            f"sample={knobs['do_sample']}"
        )


def register(group: click.Group) -> None:
    """Attach this module's commands to the ``coral`` group."""
    group.add_command(validate_config)
    group.add_command(population)
