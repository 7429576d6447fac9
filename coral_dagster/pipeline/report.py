"""Build the ``ExperimentReport`` of generation N from the artifact store and the runs' timings.

Everything but the timings comes from the statistics table (``statistics.genome_table``) over
generations 0..N:

- per generation: best and mean fitness over the genomes scored so far (a genome failed after
  every retry scores fitness 0 and counts as failed), and the population's ``grid_diversity``;
- the Pareto front of generation N (rank 0 of NSGA-II over its scored genomes) with genes,
  knobs and both keys;
- the adapter cache over the genome slots of generations 0..N (``statistics.cache_summary``:
  hit rate = reused slots / slots; seconds saved = recorded training seconds of reused slots);
- the held-out comparison from the ``heldout_evaluation`` of generation N.

Timings (``RunTiming``, read from the Dagster instance by the orchestration layer):
``stage_seconds[step]`` is the sum of ``end - start`` of this experiment's runs of that step
with a generation <= N, failed attempts included. These are run wall-clock seconds, so runs that
overlapped (sensor, Kubernetes) add up to more than the elapsed time.

What is not finished (genomes not scored, adapters not trained, generations not started, runs in
flight, the held-out evaluation) becomes a ``missing`` line: the report never fails for being
early.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from coral_dagster.domain.config import OBJECTIVES, ExperimentConfig, config_to_dict
from coral_dagster.domain.planner import generation_key
from coral_dagster.domain.stopping import stop_generation
from coral_dagster.pipeline.records import HeldoutResult, Population
from coral_dagster.pipeline.statistics import (
    as_float,
    best_fitness_history,
    cache_summary,
    generation_table,
    genome_table,
    pareto_front,
    stored_generations,
)
from coral_dagster.pipeline.store import ArtifactStore
from coral_dagster.reporting import (
    CacheStats,
    ExperimentReport,
    GenerationStats,
    HeldoutResults,
    ParetoEntry,
)


@dataclass(frozen=True)
class RunTiming:
    """One run of the experiment: its step, generation and wall-clock seconds.

    ``seconds`` is ``end - start`` and ``None`` when the run has no end time (in flight, or
    never recorded); a run that finished without ever starting took 0 seconds.
    """

    run_id: str
    step: str
    generation: int
    status: str
    in_flight: bool
    seconds: float | None


def last_generation(config: ExperimentConfig, best_history: Sequence[float]) -> int:
    """The evolution's final generation, as the planner decides it.

    ``config.evolution.generations - 1``, or the generation early stopping ends on, where
    ``best_history`` is the best fitness of the completely scored generations 0, 1, ...
    """
    final = config.evolution.generations - 1
    evolution = config.evolution
    stopped = stop_generation(best_history, evolution.patience, evolution.min_delta)
    return final if stopped is None else min(stopped, final)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def _generation_stats(summary: pd.DataFrame) -> tuple[GenerationStats, ...]:
    return tuple(
        GenerationStats(
            generation=int(row.generation),
            best_fitness=as_float(row.best_fitness),
            mean_fitness=as_float(row.mean_fitness),
            diversity=as_float(row.diversity),
            n_genomes=int(row.genomes),
            n_failed=int(row.failed),
        )
        for row in summary.itertuples()
    )


def _pareto_entries(
    store: ArtifactStore, table: pd.DataFrame, generation: int
) -> tuple[ParetoEntry, ...]:
    records = {g.genome_key: g for g in store.read_record(Population, generation).genomes}
    return tuple(
        ParetoEntry(
            genome_key=row["genome_key"],
            adapter_key=row["adapter_key"],
            objectives={o: float(row[o]) for o in OBJECTIVES},
            fitness=float(row["fitness"]),
            knobs=records[row["genome_key"]].knobs.to_dict(),
            genes=records[row["genome_key"]].genes.to_dict(),
        )
        for _, row in pareto_front(table, generation).iterrows()
    )


def _untrained_adapters(table: pd.DataFrame) -> list[str]:
    untrained = table[table["training_seconds"].isna()]
    return [
        f"adapter {key[:12]}: no training record (training pending or failed; "
        f"{_plural(len(rows), 'genome slot')} use it)"
        for key, rows in untrained.groupby("adapter_key", sort=False)
    ]


def _stage_seconds(
    runs: Sequence[RunTiming], generation: int
) -> tuple[dict[str, float], list[str]]:
    relevant = [r for r in runs if r.generation <= generation]
    totals: dict[str, float] = {}
    for run in relevant:
        if run.seconds is not None:
            totals[run.step] = totals.get(run.step, 0.0) + run.seconds
    missing = []
    flying = [r for r in relevant if r.in_flight]
    if flying:
        steps = ", ".join(sorted({r.step for r in flying}))
        missing.append(f"stage timings: {_plural(len(flying), 'run')} still in flight ({steps})")
    untimed = [r for r in relevant if not r.in_flight and r.seconds is None]
    if untimed:
        missing.append(
            f"stage timings: {_plural(len(untimed), 'finished run')} without a recorded end time "
            f"({', '.join(r.run_id for r in untimed)})"
        )
    return totals, missing


def _heldout(
    store: ArtifactStore, generation: int, final: int
) -> tuple[HeldoutResults | None, list[str]]:
    if store.has_record(HeldoutResult, generation):
        data = store.read_record(HeldoutResult, generation)
        return HeldoutResults(summaries=data.summaries, comparisons=data.comparisons), []
    if generation == final:
        return None, [f"held-out evaluation: not run yet on {generation_key(generation)}"]
    return None, [
        f"held-out evaluation: runs on the final generation ({generation_key(final)}, or earlier "
        "if early stopping ends the evolution)"
    ]


def build_experiment_report(
    store: ArtifactStore,
    config: ExperimentConfig,
    runs: Sequence[RunTiming],
    generation: int | None = None,
    table: pd.DataFrame | None = None,
) -> ExperimentReport:
    """The report of ``generation`` (default: the latest population in the store).

    Covers generations 0..``generation``; a generation beyond the populations built is an error.
    Generations up to the final one that have no population yet are listed as not started.
    The returned report's ``missing`` holds every missing line, including the generic ones of
    ``ExperimentReport.missing_parts`` (so its JSON says what is missing too). ``table``: the
    statistics table of generations 0..``generation`` when the caller has it already.
    """
    built = stored_generations(store)
    if generation is None:
        generation = built - 1
    elif not 0 <= generation < built:
        raise ValueError(
            f"no population for generation {generation}: the store holds "
            f"{_plural(built, 'population')} ({store.path('populations')})"
        )
    if table is None:
        table = genome_table(store, upto=generation)
    summary = generation_table(table)
    final = last_generation(config, best_fitness_history(table))
    missing = [
        f"generation {generation_key(int(row.generation))}: {int(row.pending)} of "
        f"{_plural(int(row.genomes), 'genome')} not scored yet"
        for row in summary.itertuples()
        if row.pending
    ]
    upcoming = [generation_key(g) for g in range(max(generation + 1, built), final + 1)]
    if upcoming:
        missing.append(
            f"generations not started yet: {', '.join(upcoming)} (unless early stopping ends "
            "the evolution)"
        )
    cache = cache_summary(table)
    stage_seconds, stage_missing = _stage_seconds(runs, max(generation, 0))
    heldout, heldout_missing = _heldout(store, generation, final) if built else (None, [])
    report = ExperimentReport(
        config=config_to_dict(config),
        generations=_generation_stats(summary),
        pareto_front=_pareto_entries(store, table, generation) if built else (),
        cache=CacheStats(
            adapters_trained=cache.adapters,
            adapters_reused=cache.reused,
            hit_rate=cache.hit_rate,
            compute_seconds_saved=cache.seconds_saved,
        )
        if cache.slots
        else None,
        stage_seconds=stage_seconds,
        heldout=heldout,
        missing=(*missing, *_untrained_adapters(table), *stage_missing, *heldout_missing),
    )
    return replace(report, missing=tuple(report.missing_parts()))
