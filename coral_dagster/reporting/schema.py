"""Typed experiment report: what one ``evolution_report`` partition holds.

Frozen dataclasses that validate on construction (errors name the culprit: generation, genome
key, stage, field) and round-trip through plain JSON with ``to_dict`` / ``from_dict``. Parts that
are not finished yet are ``None`` or empty; ``ExperimentReport.missing_parts()`` lists them
together with the caller's own ``missing`` lines, so a report never fails for being early.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from coral_dagster.domain.config import OBJECTIVES
from coral_dagster.domain.heldout import Comparison, MethodSummary
from coral_dagster.domain.planner import generation_key

REPORT_SCHEMA_VERSION = 1


def _check_keys(data: Mapping[str, Any], expected: Iterable[str], where: str) -> None:
    """Fail when ``data`` lacks or adds keys, naming them and ``where`` they are."""
    expected = set(expected)
    missing = sorted(expected - set(data))
    unknown = sorted(set(data) - expected)
    if missing or unknown:
        raise ValueError(f"{where}: missing keys {missing}, unknown keys {unknown}")


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{where} must be a number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{where} must be finite, got {value!r}")
    return float(value)


def _optional_finite(value: Any, where: str) -> float | None:
    return None if value is None else _finite(value, where)


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where} must be a non-negative int, got {value!r}")
    return value


@dataclass(frozen=True)
class GenerationStats:
    """Fitness statistics of one generation's scored genomes.

    ``best_fitness``/``mean_fitness`` are over the genomes scored so far and ``None`` when none
    is; a genome whose evaluation failed after all retries is scored with fitness 0 and counted in
    ``n_failed``. ``diversity`` is a measure of the population's genomes in [0, 1] (``None`` when
    not measured).
    """

    generation: int
    best_fitness: float | None
    mean_fitness: float | None
    diversity: float | None
    n_genomes: int
    n_failed: int

    def __post_init__(self) -> None:
        where = f"generation {self.generation!r}"
        _count(self.generation, "generation")
        _count(self.n_genomes, f"{where}: n_genomes")
        _count(self.n_failed, f"{where}: n_failed")
        if self.n_failed > self.n_genomes:
            raise ValueError(f"{where}: n_failed {self.n_failed} > n_genomes {self.n_genomes}")
        best = _optional_finite(self.best_fitness, f"{where}: best_fitness")
        mean = _optional_finite(self.mean_fitness, f"{where}: mean_fitness")
        diversity = _optional_finite(self.diversity, f"{where}: diversity")
        if best is not None and mean is not None and mean > best + 1e-9:
            raise ValueError(f"{where}: mean_fitness {mean} > best_fitness {best}")
        object.__setattr__(self, "best_fitness", best)
        object.__setattr__(self, "mean_fitness", mean)
        object.__setattr__(self, "diversity", diversity)

    @property
    def label(self) -> str:
        return generation_key(self.generation)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationStats:
        _check_keys(data, (f.name for f in fields(cls)), "generation stats")
        return cls(**data)


@dataclass(frozen=True)
class ParetoEntry:
    """One genome on the final Pareto front: its keys, objective scores, fitness, knobs and genes.

    ``objectives`` holds exactly the objectives of ``coral_dagster.domain.config.OBJECTIVES``.
    """

    genome_key: str
    adapter_key: str
    objectives: dict[str, float]
    fitness: float
    knobs: dict[str, Any]
    genes: dict[str, Any]

    def __post_init__(self) -> None:
        where = f"Pareto entry {self.genome_key!r}"
        for name in ("genome_key", "adapter_key"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise ValueError(f"{where}: {name} must be a non-empty string, got {value!r}")
        _check_keys(self.objectives, OBJECTIVES, f"{where}: objectives")
        objectives = {
            name: _finite(self.objectives[name], f"{where}: objective {name}")
            for name in OBJECTIVES
        }
        object.__setattr__(self, "objectives", objectives)
        object.__setattr__(self, "fitness", _finite(self.fitness, f"{where}: fitness"))
        object.__setattr__(self, "knobs", dict(self.knobs))
        object.__setattr__(self, "genes", dict(self.genes))

    def to_dict(self) -> dict[str, Any]:
        return {
            "genome_key": self.genome_key,
            "adapter_key": self.adapter_key,
            "objectives": dict(self.objectives),
            "fitness": self.fitness,
            "knobs": dict(self.knobs),
            "genes": dict(self.genes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ParetoEntry:
        _check_keys(data, (f.name for f in fields(cls)), "Pareto entry")
        return cls(**data)


@dataclass(frozen=True)
class CacheStats:
    """Adapter cache over the genome slots: slots that needed a new adapter vs slots that
    reused one, the hit rate and the training time saved, as ``pipeline.statistics`` computes
    them (hit rate = reused slots / slots)."""

    adapters_trained: int
    adapters_reused: int
    hit_rate: float
    compute_seconds_saved: float

    def __post_init__(self) -> None:
        _count(self.adapters_trained, "cache: adapters_trained")
        _count(self.adapters_reused, "cache: adapters_reused")
        hit_rate = _finite(self.hit_rate, "cache: hit_rate")
        if not 0.0 <= hit_rate <= 1.0:
            raise ValueError(f"cache: hit_rate must be in [0, 1], got {hit_rate}")
        saved = _finite(self.compute_seconds_saved, "cache: compute_seconds_saved")
        if saved < 0.0:
            raise ValueError(f"cache: compute_seconds_saved must be >= 0, got {saved}")
        object.__setattr__(self, "hit_rate", hit_rate)
        object.__setattr__(self, "compute_seconds_saved", saved)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CacheStats:
        _check_keys(data, (f.name for f in fields(cls)), "cache stats")
        return cls(**data)


@dataclass(frozen=True)
class HeldoutResults:
    """Held-out scores: one summary per method and the paired comparisons between them."""

    summaries: tuple[MethodSummary, ...]
    comparisons: tuple[Comparison, ...] = ()

    def __post_init__(self) -> None:
        summaries = tuple(self.summaries)
        if not summaries:
            raise ValueError("held-out results need at least one method summary")
        names = [s.method for s in summaries]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"held-out results: duplicate methods {duplicates}")
        comparisons = tuple(self.comparisons)
        for c in comparisons:
            unknown = sorted({c.method, c.reference} - set(names))
            if unknown:
                raise ValueError(f"held-out comparison {c.sentence!r} names unknown {unknown}")
        object.__setattr__(self, "summaries", summaries)
        object.__setattr__(self, "comparisons", comparisons)

    def to_dict(self) -> dict[str, Any]:
        return {
            "summaries": [s.to_dict() for s in self.summaries],
            "comparisons": [c.to_dict() for c in self.comparisons],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HeldoutResults:
        _check_keys(data, ("summaries", "comparisons"), "held-out results")
        return cls(
            summaries=tuple(MethodSummary.from_dict(s) for s in data["summaries"]),
            comparisons=tuple(Comparison.from_dict(c) for c in data["comparisons"]),
        )


@dataclass(frozen=True)
class ExperimentReport:
    """Everything the report shows. Empty/``None`` parts are reported as missing, not errors.

    ``config`` is the experiment config as plain JSON (``config_to_dict``); ``generations`` are
    in increasing generation order; ``stage_seconds`` maps a stage (e.g. ``train``, ``generate``,
    ``test``) to wall-clock seconds; ``missing`` holds the caller's own lines about unfinished work.
    """

    config: dict[str, Any]
    generations: tuple[GenerationStats, ...] = ()
    pareto_front: tuple[ParetoEntry, ...] = ()
    cache: CacheStats | None = None
    stage_seconds: dict[str, float] = field(default_factory=dict)
    heldout: HeldoutResults | None = None
    missing: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.config, Mapping):
            raise TypeError(f"config must be a mapping, got {type(self.config).__name__}")
        try:
            json.dumps(self.config, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise ValueError(f"config is not plain JSON: {err}") from None
        generations = tuple(self.generations)
        numbers = [g.generation for g in generations]
        for before, after in itertools.pairwise(numbers):
            if after <= before:
                raise ValueError(
                    f"generations must be strictly increasing: {generation_key(after)} "
                    f"follows {generation_key(before)}"
                )
        front = tuple(self.pareto_front)
        keys = [p.genome_key for p in front]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"Pareto front lists genomes more than once: {duplicates}")
        stage_seconds = {}
        for stage, seconds in self.stage_seconds.items():
            value = _finite(seconds, f"stage_seconds[{stage!r}]")
            if value < 0.0:
                raise ValueError(f"stage_seconds[{stage!r}] must be >= 0, got {value}")
            stage_seconds[str(stage)] = value
        missing = tuple(self.missing)
        if any(not isinstance(m, str) or not m.strip() for m in missing):
            raise ValueError(f"missing must hold non-empty strings, got {list(missing)!r}")
        object.__setattr__(self, "config", dict(self.config))
        object.__setattr__(self, "generations", generations)
        object.__setattr__(self, "pareto_front", front)
        object.__setattr__(self, "stage_seconds", stage_seconds)
        object.__setattr__(self, "missing", missing)

    @property
    def name(self) -> str:
        """The experiment's name from its config (``"coral"`` when the config has none)."""
        return str(self.config.get("name", "coral"))

    def missing_parts(self) -> list[str]:
        """The caller's ``missing`` lines, then one line per empty part (no duplicates).

        A part's own line (e.g. ``held-out evaluation: not run yet``) is left out when a caller
        line already starts with that part's label (``held-out evaluation``), so a caller can say
        more precisely what is missing without the generic line repeating it.
        """
        empty = {
            "fitness per generation": (
                not self.generations,
                "no generation has been scored yet",
            ),
            "Pareto front": (not self.pareto_front, "no scored genomes yet"),
            "adapter cache statistics": (self.cache is None, "not recorded yet"),
            "stage timings": (not self.stage_seconds, "not recorded yet"),
            "held-out evaluation": (self.heldout is None, "not run yet"),
        }
        derived = [
            f"{label}: {reason}"
            for label, (is_empty, reason) in empty.items()
            if is_empty and not any(m.startswith(label) for m in self.missing)
        ]
        return list(dict.fromkeys([*self.missing, *derived]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "config": dict(self.config),
            "generations": [g.to_dict() for g in self.generations],
            "pareto_front": [p.to_dict() for p in self.pareto_front],
            "cache": None if self.cache is None else self.cache.to_dict(),
            "stage_seconds": dict(self.stage_seconds),
            "heldout": None if self.heldout is None else self.heldout.to_dict(),
            "missing": list(self.missing),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentReport:
        names = [f.name for f in fields(cls)]
        _check_keys(data, ["schema_version", *names], "experiment report")
        if data["schema_version"] != REPORT_SCHEMA_VERSION:
            raise ValueError(
                f"experiment report schema_version {data['schema_version']!r} is not "
                f"{REPORT_SCHEMA_VERSION}"
            )
        return cls(
            config=data["config"],
            generations=tuple(GenerationStats.from_dict(g) for g in data["generations"]),
            pareto_front=tuple(ParetoEntry.from_dict(p) for p in data["pareto_front"]),
            cache=None if data["cache"] is None else CacheStats.from_dict(data["cache"]),
            stage_seconds=data["stage_seconds"],
            heldout=None if data["heldout"] is None else HeldoutResults.from_dict(data["heldout"]),
            missing=tuple(data["missing"]),
        )
