"""The experiment's statistics table: one row per genome slot of every stored generation.

``genome_table(store)`` is the single source of every fitness and cache statistic that
``coral status``, ``coral report``, early stopping, the held-out stage and the assets' metadata
show. Columns (``COLUMNS``):

- ``generation``, ``slot`` (position in the population), ``genome_key``, ``adapter_key``;
- ``scored`` (a scores artifact exists), ``failed`` (recorded as failed after every retry);
- the five objectives and ``fitness`` (NaN until scored);
- ``rank`` (0 = the generation's Pareto front) and ``crowding`` (crowding distance within its
  front), NSGA-II over the generation's scored genomes (NaN when unscored);
- ``adapter_reused``: some earlier slot (this or an earlier generation, in slot order) needed the
  same adapter key, so this slot trained nothing: the adapter cache hit;
- ``training_seconds``: the adapter's recorded training time (NaN until trained);
- ``diversity``: the generation's ``grid_diversity`` (same value on each of its rows);
- the heavy genes (``gene_*``) and cheap knobs (``knob_*``).

Derived, each in one function: ``generation_table`` (per generation: best and mean fitness over
scored genomes, failures, pending, hit rate = reused slots / slots), ``best_fitness_history``
(for early stopping), ``cache_summary`` (over all slots: hit rate = reused / slots, seconds
saved = sum of training seconds over reused slots) and ``pareto_front``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from coral_dagster.domain.config import OBJECTIVES
from coral_dagster.domain.diversity import grid_diversity
from coral_dagster.domain.nsga2 import rank_and_crowding
from coral_dagster.domain.scoring import objective_matrix
from coral_dagster.pipeline.records import AdapterTraining, Population, Scores
from coral_dagster.pipeline.store import ArtifactStore

GENE_COLUMNS = (
    "gene_adapter_type",
    "gene_rank",
    "gene_alpha",
    "gene_dropout",
    "gene_target_modules",
    "gene_learning_rate",
)
KNOB_COLUMNS = (
    "knob_temperature",
    "knob_top_p",
    "knob_top_k",
    "knob_repetition_penalty",
    "knob_max_new_tokens",
    "knob_do_sample",
)
COLUMNS = (
    "generation",
    "slot",
    "genome_key",
    "adapter_key",
    "scored",
    "failed",
    *OBJECTIVES,
    "fitness",
    "rank",
    "crowding",
    "adapter_reused",
    "training_seconds",
    "diversity",
    *GENE_COLUMNS,
    *KNOB_COLUMNS,
)


def stored_generations(store: ArtifactStore) -> int:
    """How many populations the store holds: generations 0..n-1 (0 when none is built)."""
    count = 0
    while store.has_record(Population, count):
        count += 1
    return count


def genome_table(
    store: ArtifactStore, upto: int | None = None, with_training: bool = True
) -> pd.DataFrame:
    """The statistics table of generations 0..``upto`` (default: every stored population).

    ``with_training=False`` leaves ``training_seconds`` NaN without reading the adapters'
    training records (the planner's fitness history must not depend on them: a damaged one is
    retrained, not a reason to stop planning)."""
    last = stored_generations(store) - 1 if upto is None else upto
    rows: list[dict] = []
    seen_adapters: set[str] = set()
    training: dict[str, float] = {}
    for generation in range(last + 1):
        population = store.read_record(Population, generation)
        diversity = grid_diversity([g.genome() for g in population.genomes])
        first = len(rows)
        for slot, genome in enumerate(population.genomes):
            key = genome.adapter_key
            if with_training and key not in training and store.has_record(AdapterTraining, key):
                training[key] = store.read_record(AdapterTraining, key).seconds
            scores = (
                store.read_record(Scores, genome.genome_key)
                if store.has_record(Scores, genome.genome_key)
                else None
            )
            genes, knobs = genome.genes, genome.knobs
            rows.append(
                {
                    "generation": generation,
                    "slot": slot,
                    "genome_key": genome.genome_key,
                    "adapter_key": key,
                    "scored": scores is not None,
                    "failed": bool(scores and scores.failed),
                    **{o: scores.objectives[o] if scores else math.nan for o in OBJECTIVES},
                    "fitness": scores.fitness if scores else math.nan,
                    "rank": math.nan,
                    "crowding": math.nan,
                    "adapter_reused": key in seen_adapters,
                    "training_seconds": training.get(key, math.nan),
                    "diversity": diversity,
                    "gene_adapter_type": genes.adapter_type,
                    "gene_rank": genes.rank,
                    "gene_alpha": genes.alpha,
                    "gene_dropout": genes.dropout,
                    "gene_target_modules": ",".join(genes.target_modules),
                    "gene_learning_rate": genes.learning_rate,
                    "knob_temperature": knobs.temperature,
                    "knob_top_p": knobs.top_p,
                    "knob_top_k": knobs.top_k,
                    "knob_repetition_penalty": knobs.repetition_penalty,
                    "knob_max_new_tokens": knobs.max_new_tokens,
                    "knob_do_sample": knobs.do_sample,
                }
            )
            seen_adapters.add(key)
        _rank(rows[first:])
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _rank(rows: list[dict]) -> None:
    """NSGA-II rank and crowding of a generation's scored rows (a genome listed twice in a
    population is ranked once; its duplicate rows share the values)."""
    scored = {r["genome_key"]: r for r in rows if r["scored"]}
    if not scored:
        return
    values = objective_matrix([{o: r[o] for o in OBJECTIVES} for r in scored.values()])
    rank, crowding = rank_and_crowding(values)
    by_key = {k: (int(rank[i]), float(crowding[i])) for i, k in enumerate(scored)}
    for row in rows:
        if row["genome_key"] in by_key:
            row["rank"], row["crowding"] = by_key[row["genome_key"]]


def generation_table(table: pd.DataFrame) -> pd.DataFrame:
    """Per generation: genomes, scored, failed, pending, best/mean fitness over scored genomes
    (NaN when none), adapters first needed here, reused slots, hit rate, diversity."""
    if table.empty:
        return pd.DataFrame(
            columns=[
                "generation",
                "genomes",
                "scored",
                "failed",
                "pending",
                "best_fitness",
                "mean_fitness",
                "adapters_new",
                "reused_slots",
                "hit_rate",
                "diversity",
                "complete",
            ]
        )
    grouped = table.groupby("generation", sort=True)
    out = pd.DataFrame(
        {
            "genomes": grouped.size(),
            "scored": grouped["scored"].sum(),
            "failed": grouped["failed"].sum(),
            "best_fitness": grouped["fitness"].max(),
            "mean_fitness": grouped["fitness"].mean(),
            "reused_slots": grouped["adapter_reused"].sum(),
            "diversity": grouped["diversity"].first(),
        }
    )
    out["pending"] = out["genomes"] - out["scored"]
    out["adapters_new"] = out["genomes"] - out["reused_slots"]
    out["hit_rate"] = out["reused_slots"] / out["genomes"]
    out["complete"] = out["pending"] == 0
    out = out.reset_index()
    for column in ("genomes", "scored", "failed", "pending", "reused_slots", "adapters_new"):
        out[column] = out[column].astype(int)
    return out


def best_fitness_history(table: pd.DataFrame) -> list[float]:
    """Best fitness of the completely scored generations 0, 1, ... (a contiguous prefix: the
    history stops at the first generation with an unscored genome)."""
    history = []
    for _, row in generation_table(table).iterrows():
        if not row["complete"] or row["generation"] != len(history):
            break
        history.append(float(row["best_fitness"]))
    return history


@dataclass(frozen=True)
class CacheSummary:
    """Adapter cache over every slot: ``hit_rate = reused / slots``; ``seconds_saved`` = sum of
    the recorded training seconds of the reused slots' adapters."""

    slots: int
    adapters: int
    reused: int
    hit_rate: float
    seconds_saved: float


def cache_summary(table: pd.DataFrame) -> CacheSummary:
    slots = len(table)
    reused = int(table["adapter_reused"].sum()) if slots else 0
    saved = table.loc[table["adapter_reused"], "training_seconds"].fillna(0.0).sum()
    return CacheSummary(
        slots=slots,
        adapters=slots - reused,
        reused=reused,
        hit_rate=reused / slots if slots else 0.0,
        seconds_saved=float(saved),
    )


def pareto_front(table: pd.DataFrame, generation: int) -> pd.DataFrame:
    """The generation's scored genomes of rank 0, best fitness first, then by genome key; a
    genome listed twice appears once."""
    rows = table[(table["generation"] == generation) & (table["rank"] == 0)]
    rows = rows.drop_duplicates("genome_key")
    return rows.sort_values(["fitness", "genome_key"], ascending=[False, True]).reset_index(
        drop=True
    )


def as_float(value: object) -> float | None:
    """A table cell as a float, ``None`` for NaN (for JSON and report records)."""
    number = float(value)  # type: ignore[arg-type]
    return None if np.isnan(number) else number
