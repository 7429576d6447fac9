"""Build the ``ExperimentReport`` of generation N from the artifact store and the Dagster runs.

Everything but the timings comes from the artifact store (the JSON the stages write), for the
generations 0..N whose populations exist:

- per generation: best and mean fitness over the genomes scored so far (a genome failed after
  every retry is scored with fitness 0 and counted as failed, as in ``generation_summary``), and
  ``diversity = grid_diversity`` of the population's genomes (mean pairwise normalised Hamming
  distance of the CA seed grids, in [0, 1]; ``coral_dagster.domain.diversity``);
- the Pareto front of generation N (non-dominated over the five objectives, among its scored
  genomes; a genome listed twice appears once) with genes, knobs and both keys;
- adapter cache over the genome slots of generations 0..N, in order: a slot whose adapter key no
  earlier slot needed *trains* it, every later slot with that key *reuses* it;
  ``hit_rate = reused / (trained + reused)``, ``compute_seconds_saved`` = sum over reused slots of
  the adapter's recorded training seconds (``adapters/<key>/training.json``). Slots whose adapter
  has no training record yet are left out and listed as missing. The held-out standard LoRA is
  not a genome slot and is not counted;
- the held-out comparison from ``heldout/gNNNN.json`` of generation N.

Timings come from the Dagster instance: ``stage_seconds[step]`` is the sum of ``end - start`` of
this experiment's runs (tag ``coral/experiment``) with that ``coral/step`` tag and a
``coral/generation`` tag <= N, failed attempts included. These are run wall-clock seconds, so
runs that overlapped (sensor, Kubernetes) add up to more than the elapsed time. ``coral
backfill`` runs carry the experiment, step and generation tags and are counted; runs launched
by hand from the UI carry none and are not.

What is not finished (genomes not scored, adapters not trained, generations not started, runs in
flight, the held-out evaluation) becomes a ``missing`` line: the report never fails for being
early.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from dagster import DagsterInstance, RunsFilter

from coral_dagster.domain.config import ExperimentConfig, config_to_dict
from coral_dagster.domain.diversity import grid_diversity
from coral_dagster.domain.genome import Genome
from coral_dagster.domain.nsga2 import pareto_front_indices
from coral_dagster.domain.planner import generation_key
from coral_dagster.domain.stopping import stop_generation
from coral_dagster.heldout_eval import heldout_path
from coral_dagster.reporting import (
    CacheStats,
    ExperimentReport,
    GenerationStats,
    HeldoutResults,
    ParetoEntry,
)
from coral_dagster.run_tags import IN_FLIGHT, TAG_EXPERIMENT, TAG_GENERATION, TAG_STEP
from coral_dagster.stages import (
    adapter_dir,
    load_population,
    load_scores,
    population_path,
    scores_path,
)
from coral_dagster.storage import ArtifactStore


def report_dir(generation: int) -> str:
    """Where the ``evolution_report`` of a generation lives in the store: ``reports/gNNNN``."""
    return f"reports/{generation_key(generation)}"


@dataclass(frozen=True)
class RunTiming:
    """One Dagster run of the experiment: its step, generation and wall-clock seconds.

    ``seconds`` is ``end - start`` and ``None`` when the run has no end time (in flight, or
    never recorded); a run that finished without ever starting took 0 seconds.
    """

    run_id: str
    step: str
    generation: int
    status: str
    in_flight: bool
    seconds: float | None


def read_run_timings(
    instance: DagsterInstance, experiment_id: str, exclude_run_ids: Collection[str] = ()
) -> list[RunTiming]:
    """Timings of the runs tagged ``coral/experiment = experiment_id`` (oldest first).

    ``exclude_run_ids``: runs to leave out (the ``evolution_report`` run reading its own
    instance). A run of the experiment without ``coral/step`` or ``coral/generation`` tags is an
    error naming it.
    """
    records = instance.get_run_records(filters=RunsFilter(tags={TAG_EXPERIMENT: experiment_id}))
    timings = []
    for record in sorted(records, key=lambda r: r.create_timestamp):
        run = record.dagster_run
        if run.run_id in exclude_run_ids:
            continue
        step, generation = run.tags.get(TAG_STEP), run.tags.get(TAG_GENERATION)
        if step is None or generation is None or not generation.isdigit():
            raise ValueError(
                f"run {run.run_id} of experiment {experiment_id} lacks a {TAG_STEP!r} tag or an "
                f"integer {TAG_GENERATION!r} tag (tags: {dict(run.tags)})"
            )
        in_flight = run.status in IN_FLIGHT
        if in_flight or record.end_time is None:
            seconds = None
        elif record.start_time is None:
            seconds = 0.0  # ended (canceled, failed) before it started
        else:
            seconds = max(0.0, record.end_time - record.start_time)
        timings.append(
            RunTiming(
                run_id=run.run_id,
                step=step,
                generation=int(generation),
                status=run.status.value,
                in_flight=in_flight,
                seconds=seconds,
            )
        )
    return timings


def built_generations(store: ArtifactStore) -> int:
    """How many populations the store holds: generations 0..n-1 (0 when none is built)."""
    count = 0
    while store.exists(population_path(count)):
        count += 1
    return count


def last_generation(config: ExperimentConfig, best_history: Sequence[float]) -> int:
    """The evolution's final generation, as the planner decides it.

    ``config.evolution.generations - 1``, or generation ``u - 1`` for the first ``u`` with
    ``should_stop(best_history[:u])`` (early stopping), where ``best_history`` is the best
    fitness of the completely scored generations 0, 1, ...
    """
    final = config.evolution.generations - 1
    evolution = config.evolution
    stopped = stop_generation(best_history, evolution.patience, evolution.min_delta)
    return final if stopped is None else min(stopped, final)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class _Generation:
    records: list[dict[str, Any]]
    scores: dict[str, dict[str, Any]]  # genome key -> scores, for the scored genomes

    @property
    def complete(self) -> bool:
        return all(r["genome_key"] in self.scores for r in self.records)


def _read_generation(store: ArtifactStore, generation: int) -> _Generation:
    records = load_population(store, generation)
    scores = {
        r["genome_key"]: load_scores(store, r["genome_key"])
        for r in records
        if store.exists(scores_path(r["genome_key"]))
    }
    return _Generation(records=records, scores=scores)


def _generation_stats(generation: int, data: _Generation) -> GenerationStats:
    scores = [data.scores[r["genome_key"]] for r in data.records if r["genome_key"] in data.scores]
    fits = [float(s["fitness"]) for s in scores]
    return GenerationStats(
        generation=generation,
        best_fitness=max(fits) if fits else None,
        mean_fitness=sum(fits) / len(fits) if fits else None,
        diversity=grid_diversity([Genome.from_dict(r) for r in data.records]),
        n_genomes=len(data.records),
        n_failed=sum(bool(s["failed"]) for s in scores),
    )


def _pareto_front(data: _Generation) -> tuple[ParetoEntry, ...]:
    scored = list(
        {r["genome_key"]: r for r in data.records if r["genome_key"] in data.scores}.values()
    )
    objectives = [data.scores[r["genome_key"]]["objectives"] for r in scored]
    return tuple(
        ParetoEntry(
            genome_key=scored[i]["genome_key"],
            adapter_key=scored[i]["adapter_key"],
            objectives=objectives[i],
            fitness=data.scores[scored[i]["genome_key"]]["fitness"],
            knobs=scored[i]["knobs"],
            genes=scored[i]["genes"],
        )
        for i in pareto_front_indices(objectives)
    )


def _cache_stats(
    store: ArtifactStore, generations: Sequence[_Generation]
) -> tuple[CacheStats | None, list[str]]:
    seconds: dict[str, float | None] = {}
    untrained: dict[str, int] = {}
    trained = reused = 0
    saved = 0.0
    for data in generations:
        for record in data.records:
            key = record["adapter_key"]
            if key not in seconds:
                training = f"{adapter_dir(key)}/training.json"
                seconds[key] = (
                    float(store.read_json(training)["seconds"]) if store.exists(training) else None
                )
                if seconds[key] is not None:
                    trained += 1
                    continue
            if seconds[key] is None:
                untrained[key] = untrained.get(key, 0) + 1
                continue
            reused += 1
            saved += seconds[key]
    missing = [
        f"adapter {key[:12]}: no training record (training pending or failed; "
        f"{_plural(n, 'genome slot')} left out of the cache statistics)"
        for key, n in untrained.items()
    ]
    if trained == 0:
        return None, missing
    return CacheStats.from_counts(trained, reused, saved), missing


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
    path = heldout_path(generation)
    if store.exists(path):
        data = store.read_json(path, f"held-out evaluation of {generation_key(generation)}")
        results = HeldoutResults.from_dict(
            {"summaries": data["summaries"], "comparisons": data["comparisons"]}
        )
        return results, []
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
) -> ExperimentReport:
    """The report of ``generation`` (default: the latest population in the store).

    Covers generations 0..``generation``; a generation beyond the populations built is an error.
    Generations up to the final one that have no population yet are listed as not started.
    The returned report's ``missing`` holds every missing line, including the generic ones of
    ``ExperimentReport.missing_parts`` (so its JSON says what is missing too).
    """
    built = built_generations(store)
    if generation is None:
        generation = built - 1
    elif not 0 <= generation < built:
        raise ValueError(
            f"no population for generation {generation}: the store holds "
            f"{_plural(built, 'population')} ({store.path('populations')})"
        )
    missing: list[str] = []
    generations = [_read_generation(store, g) for g in range(generation + 1)]
    history = []
    for data in generations:
        if not data.complete:
            break
        history.append(max(float(s["fitness"]) for s in data.scores.values()))
    final = last_generation(config, history)
    for g, data in enumerate(generations):
        unscored = sum(r["genome_key"] not in data.scores for r in data.records)
        if unscored:
            missing.append(
                f"generation {generation_key(g)}: {unscored} of "
                f"{_plural(len(data.records), 'genome')} not scored yet"
            )
    upcoming = [generation_key(g) for g in range(max(generation + 1, built), final + 1)]
    if upcoming:
        missing.append(
            f"generations not started yet: {', '.join(upcoming)} (unless early stopping ends "
            "the evolution)"
        )
    cache, cache_missing = _cache_stats(store, generations)
    stage_seconds, stage_missing = _stage_seconds(runs, max(generation, 0))
    heldout, heldout_missing = _heldout(store, generation, final) if generations else (None, [])
    report = ExperimentReport(
        config=config_to_dict(config),
        generations=tuple(_generation_stats(g, d) for g, d in enumerate(generations)),
        pareto_front=_pareto_front(generations[-1]) if generations else (),
        cache=cache,
        stage_seconds=stage_seconds,
        heldout=heldout,
        missing=(*missing, *cache_missing, *stage_missing, *heldout_missing),
    )
    return replace(report, missing=tuple(report.missing_parts()))
