"""Typed artifacts: the JSON documents the stages write to and read from the store.

Each record is a frozen dataclass with ``to_dict`` / ``from_dict`` (``from_dict`` refuses missing
or unknown keys, naming them) and a ``relpath(key)`` built by ``layout``. The store writes them
through ``ArtifactStore.write_record`` and reads them through ``ArtifactStore.read_record`` (see
``store``), which verify a SHA-256 of the canonical JSON on every read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from coral_dagster.benchmark.evaluator import CandidateResult
from coral_dagster.domain.config import OBJECTIVES
from coral_dagster.domain.genome import CASeed, CheapKnobs, Genome, HeavyGenes
from coral_dagster.domain.heldout import Comparison, MethodSummary
from coral_dagster.domain.partition_keys import adapter_partition_key, genome_partition_key
from coral_dagster.domain.records import KeyContext
from coral_dagster.pipeline import layout


class RecordError(ValueError):
    """A stored document does not have the shape of its record type."""


def check_keys(
    data: Any, expected: Iterable[str], where: str, optional: Iterable[str] = ()
) -> None:
    """Fail unless ``data`` is a mapping holding ``expected`` keys (plus ``optional`` ones)."""
    if not isinstance(data, Mapping):
        raise RecordError(f"{where}: expected an object, got {type(data).__name__}")
    expected, optional = set(expected), set(optional)
    missing = sorted(expected - set(data))
    unknown = sorted(set(data) - expected - optional)
    if missing or unknown:
        raise RecordError(f"{where}: missing keys {missing}, unknown keys {unknown}")


def _unit(value: Any, where: str) -> float:
    """A finite number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecordError(f"{where}: expected a finite number, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise RecordError(f"{where}: expected a value in [0, 1], got {value!r}")
    return float(value)


def key_context_to_dict(context: KeyContext) -> dict[str, Any]:
    return {
        "base_model_id": context.base_model_id,
        "training_data_fingerprint": context.training_data_fingerprint,
        "training_config": context.training_config,
        "evaluation_fingerprint": context.evaluation_fingerprint,
    }


def key_context_from_dict(data: Any) -> KeyContext:
    fields_ = ("base_model_id", "training_data_fingerprint", "training_config")
    check_keys(data, (*fields_, "evaluation_fingerprint"), "key context")
    return KeyContext(**data)


@dataclass(frozen=True)
class ExperimentBinding:
    """The experiment a store belongs to."""

    kind: ClassVar[str] = "experiment"
    experiment_id: str
    name: str

    @staticmethod
    def relpath(key: None = None) -> str:
        return layout.EXPERIMENT

    def to_dict(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id, "name": self.name}

    @classmethod
    def from_dict(cls, data: Any) -> ExperimentBinding:
        check_keys(data, ("experiment_id", "name"), cls.kind)
        return cls(**data)


@dataclass(frozen=True)
class ProblemSplit:
    """The ``problems`` asset: which problems train, select and judge, and the key context."""

    kind: ClassVar[str] = "problem split"
    split_fingerprint: str
    dataset: str
    problem_set_fingerprint: str
    train: tuple[str, ...]
    validation: tuple[str, ...]
    test: tuple[str, ...]
    key_context: KeyContext

    @staticmethod
    def relpath(split_fingerprint: str) -> str:
        return layout.problems(split_fingerprint)

    def to_dict(self) -> dict[str, Any]:
        return {
            "split_fingerprint": self.split_fingerprint,
            "dataset": self.dataset,
            "problem_set_fingerprint": self.problem_set_fingerprint,
            "train": list(self.train),
            "validation": list(self.validation),
            "test": list(self.test),
            "key_context": key_context_to_dict(self.key_context),
        }

    @classmethod
    def from_dict(cls, data: Any) -> ProblemSplit:
        check_keys(data, [f for f in cls.__dataclass_fields__ if f != "kind"], cls.kind)
        return cls(
            split_fingerprint=data["split_fingerprint"],
            dataset=data["dataset"],
            problem_set_fingerprint=data["problem_set_fingerprint"],
            train=tuple(data["train"]),
            validation=tuple(data["validation"]),
            test=tuple(data["test"]),
            key_context=key_context_from_dict(data["key_context"]),
        )


@dataclass(frozen=True)
class ValidationBug:
    """One injected bug of the validation set: problem ``key`` runs as ``program`` (the
    validation program it was made from), with ``buggy_source`` as its buggy code; ``fix_rank``
    is the 1-based rank of its best-ranked fixing candidate under the base model."""

    key: str
    program: str
    operator: str
    lineno: int
    buggy_source: str
    fix_rank: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "program": self.program,
            "operator": self.operator,
            "lineno": self.lineno,
            "buggy_source": self.buggy_source,
            "fix_rank": self.fix_rank,
        }

    @classmethod
    def from_dict(cls, data: Any) -> ValidationBug:
        check_keys(data, [f for f in cls.__dataclass_fields__], "validation bug")
        return cls(**data)


@dataclass(frozen=True)
class ValidationBugs:
    """The ``validation_bugs`` asset: the hard injected bugs of one recipe ``fingerprint`` and
    how many mutants each filter kept (``sampled`` -> ``real`` -> ``reachable`` -> ``hard``)."""

    kind: ClassVar[str] = "validation bugs"
    fingerprint: str
    bugs: tuple[ValidationBug, ...]
    funnel: dict[str, int]

    @staticmethod
    def relpath(fingerprint: str) -> str:
        return layout.validation_bugs(fingerprint)

    def to_dict(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "bugs": [b.to_dict() for b in self.bugs],
            "funnel": dict(self.funnel),
        }

    @classmethod
    def from_dict(cls, data: Any) -> ValidationBugs:
        check_keys(data, ("fingerprint", "bugs", "funnel"), cls.kind)
        return cls(
            fingerprint=data["fingerprint"],
            bugs=tuple(ValidationBug.from_dict(b) for b in data["bugs"]),
            funnel={str(k): int(v) for k, v in data["funnel"].items()},
        )


@dataclass(frozen=True)
class GenomeRecord:
    """One genome with its keys and derived knobs, as a population lists it."""

    genome_key: str
    adapter_key: str
    seed: CASeed
    genes: HeavyGenes
    knobs: CheapKnobs

    FIELDS: ClassVar[tuple[str, ...]] = ("genome_key", "adapter_key", "seed", "genes", "knobs")

    def genome(self) -> Genome:
        return Genome(seed=self.seed, genes=self.genes)

    @property
    def partition_key(self) -> str:
        """The readable genome partition key (``domain.partition_keys``)."""
        return genome_partition_key(self.genome_key, self.genes, self.knobs)

    @property
    def adapter_partition_key(self) -> str:
        return adapter_partition_key(self.adapter_key, self.genes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "genome_key": self.genome_key,
            "adapter_key": self.adapter_key,
            "seed": self.seed.to_dict(),
            "genes": self.genes.to_dict(),
            "knobs": self.knobs.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> GenomeRecord:
        check_keys(data, cls.FIELDS, "genome record")
        return cls(
            genome_key=data["genome_key"],
            adapter_key=data["adapter_key"],
            seed=CASeed.from_dict(data["seed"]),
            genes=HeavyGenes.from_dict(data["genes"]),
            knobs=CheapKnobs.from_dict(data["knobs"]),
        )


@dataclass(frozen=True)
class Population:
    """The genomes of one generation, in breeding order (a genome may appear once)."""

    kind: ClassVar[str] = "population"
    generation: int
    genomes: tuple[GenomeRecord, ...]

    @staticmethod
    def relpath(generation: int) -> str:
        return layout.population(generation)

    @property
    def genome_keys(self) -> list[str]:
        return [g.genome_key for g in self.genomes]

    def to_dict(self) -> dict[str, Any]:
        return {"generation": self.generation, "genomes": [g.to_dict() for g in self.genomes]}

    @classmethod
    def from_dict(cls, data: Any) -> Population:
        check_keys(data, ("generation", "genomes"), cls.kind)
        return cls(
            generation=int(data["generation"]),
            genomes=tuple(GenomeRecord.from_dict(g) for g in data["genomes"]),
        )


@dataclass(frozen=True)
class AdapterSpec:
    """What an adapter key stands for: the heavy genes and the key context."""

    kind: ClassVar[str] = "adapter spec"
    adapter_key: str
    genes: HeavyGenes
    key_context: KeyContext

    @staticmethod
    def relpath(adapter_key: str) -> str:
        return layout.adapter_spec(adapter_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "adapter_key": self.adapter_key,
            "genes": self.genes.to_dict(),
            "key_context": key_context_to_dict(self.key_context),
        }

    @classmethod
    def from_dict(cls, data: Any) -> AdapterSpec:
        check_keys(data, ("adapter_key", "genes", "key_context"), cls.kind)
        return cls(
            adapter_key=data["adapter_key"],
            genes=HeavyGenes.from_dict(data["genes"]),
            key_context=key_context_from_dict(data["key_context"]),
        )


@dataclass(frozen=True)
class GenomeSpec:
    """What a genome key stands for, and the generation it first appeared in."""

    kind: ClassVar[str] = "genome spec"
    record: GenomeRecord
    generation: int

    @staticmethod
    def relpath(genome_key: str) -> str:
        return layout.genome_spec(genome_key)

    @property
    def genome_key(self) -> str:
        return self.record.genome_key

    @property
    def adapter_key(self) -> str:
        return self.record.adapter_key

    def to_dict(self) -> dict[str, Any]:
        return {**self.record.to_dict(), "generation": self.generation}

    @classmethod
    def from_dict(cls, data: Any) -> GenomeSpec:
        check_keys(data, (*GenomeRecord.FIELDS, "generation"), cls.kind)
        record = GenomeRecord.from_dict({k: data[k] for k in GenomeRecord.FIELDS})
        return cls(record=record, generation=int(data["generation"]))


@dataclass(frozen=True)
class PatchOutput:
    """The model's answer for one problem (the drawn candidate's answer text, for ``edit``) and
    the candidate program built from it; ``program`` is ``None`` when the answer gave none,
    and ``failure`` says why (empty otherwise)."""

    request_id: str
    problem_name: str
    raw_text: str
    program: str | None
    failure: str
    prompt_tokens: int
    new_tokens: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, data: Any) -> PatchOutput:
        check_keys(data, cls.__dataclass_fields__, "patch output")
        return cls(**data)


@dataclass(frozen=True)
class GeneratedCode:
    """The ``generated_code`` asset of one genome: a patch per validation problem."""

    kind: ClassVar[str] = "generated code"
    genome_key: str
    adapter_key: str
    outputs: tuple[PatchOutput, ...]
    seconds: float

    @staticmethod
    def relpath(genome_key: str) -> str:
        return layout.generated(genome_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "genome_key": self.genome_key,
            "adapter_key": self.adapter_key,
            "outputs": [o.to_dict() for o in self.outputs],
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, data: Any) -> GeneratedCode:
        check_keys(data, ("genome_key", "adapter_key", "outputs", "seconds"), cls.kind)
        return cls(
            genome_key=data["genome_key"],
            adapter_key=data["adapter_key"],
            outputs=tuple(PatchOutput.from_dict(o) for o in data["outputs"]),
            seconds=float(data["seconds"]),
        )


@dataclass(frozen=True)
class Scores:
    """The ``validation_scores`` asset of one genome: objectives (means over problems, each in
    [0, 1]), fitness, test counts and per-problem verdicts; ``failed`` genomes score 0 with the
    reason their runs failed."""

    kind: ClassVar[str] = "scores"
    genome_key: str
    failed: bool
    reason: str
    objectives: dict[str, float]
    fitness: float
    passed: int
    total: int
    results: tuple[CandidateResult, ...] = field(default=())  # one per validation problem

    def __post_init__(self) -> None:
        where = f"scores of genome {self.genome_key}"
        if set(self.objectives) != set(OBJECTIVES):
            raise RecordError(f"{where}: objectives {sorted(self.objectives)} != {OBJECTIVES}")
        for name, value in self.objectives.items():
            _unit(value, f"{where}: objective {name}")
        _unit(self.fitness, f"{where}: fitness")

    @staticmethod
    def relpath(genome_key: str) -> str:
        return layout.scores(genome_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "genome_key": self.genome_key,
            "failed": self.failed,
            "reason": self.reason,
            "objectives": {o: float(self.objectives[o]) for o in OBJECTIVES},
            "fitness": float(self.fitness),
            "passed": self.passed,
            "total": self.total,
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Any) -> Scores:
        check_keys(data, [f for f in cls.__dataclass_fields__ if f != "kind"], cls.kind)
        return cls(
            genome_key=data["genome_key"],
            failed=bool(data["failed"]),
            reason=str(data["reason"]),
            objectives={o: float(v) for o, v in data["objectives"].items()},
            fitness=float(data["fitness"]),
            passed=int(data["passed"]),
            total=int(data["total"]),
            results=tuple(CandidateResult.from_dict(r) for r in data["results"]),
        )


@dataclass(frozen=True)
class TopGenome:
    """A genome judged on the held-out set, with its validation fitness."""

    genome_key: str
    adapter_key: str
    fitness: float
    knobs: CheapKnobs

    def to_dict(self) -> dict[str, Any]:
        return {
            "genome_key": self.genome_key,
            "adapter_key": self.adapter_key,
            "fitness": self.fitness,
            "knobs": self.knobs.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any) -> TopGenome:
        check_keys(data, ("genome_key", "adapter_key", "fitness", "knobs"), "top genome")
        return cls(
            genome_key=data["genome_key"],
            adapter_key=data["adapter_key"],
            fitness=float(data["fitness"]),
            knobs=CheapKnobs.from_dict(data["knobs"]),
        )


@dataclass(frozen=True)
class HeldoutSamples:
    """One held-out request's samples (a method on a problem), written as soon as they are
    generated, so an interrupted held-out evaluation resumes without generating them again.
    ``sample_key``: SHA-256 of everything the samples depend on (``pipeline.heldout``)."""

    kind: ClassVar[str] = "held-out samples"
    sample_key: str
    request_id: str
    outputs: tuple[PatchOutput, ...]

    @staticmethod
    def relpath(sample_key: str) -> str:
        return layout.heldout_samples(sample_key)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sample_key": self.sample_key,
            "request_id": self.request_id,
            "outputs": [o.to_dict() for o in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: Any) -> HeldoutSamples:
        check_keys(data, ("sample_key", "request_id", "outputs"), cls.kind)
        return cls(
            sample_key=data["sample_key"],
            request_id=data["request_id"],
            outputs=tuple(PatchOutput.from_dict(o) for o in data["outputs"]),
        )


@dataclass(frozen=True)
class HeldoutResult:
    """The ``heldout_evaluation`` asset: every method's summary on the held-out problems."""

    kind: ClassVar[str] = "held-out evaluation"
    generation: int
    test_problems: tuple[str, ...]
    samples_per_problem: int
    standard_lora_key: str
    standard_lora_cached: bool
    top_genomes: tuple[TopGenome, ...]
    summaries: tuple[MethodSummary, ...]
    comparisons: tuple[Comparison, ...]

    @staticmethod
    def relpath(generation: int) -> str:
        return layout.heldout(generation)

    def to_dict(self) -> dict[str, Any]:
        return {
            "generation": self.generation,
            "test_problems": list(self.test_problems),
            "samples_per_problem": self.samples_per_problem,
            "standard_lora_key": self.standard_lora_key,
            "standard_lora_cached": self.standard_lora_cached,
            "top_genomes": [g.to_dict() for g in self.top_genomes],
            "summaries": [s.to_dict() for s in self.summaries],
            "comparisons": [c.to_dict() for c in self.comparisons],
        }

    @classmethod
    def from_dict(cls, data: Any) -> HeldoutResult:
        check_keys(data, [f for f in cls.__dataclass_fields__ if f != "kind"], cls.kind)
        return cls(
            generation=int(data["generation"]),
            test_problems=tuple(data["test_problems"]),
            samples_per_problem=int(data["samples_per_problem"]),
            standard_lora_key=data["standard_lora_key"],
            standard_lora_cached=bool(data["standard_lora_cached"]),
            top_genomes=tuple(TopGenome.from_dict(g) for g in data["top_genomes"]),
            summaries=tuple(MethodSummary.from_dict(s) for s in data["summaries"]),
            comparisons=tuple(Comparison.from_dict(c) for c in data["comparisons"]),
        )


@dataclass(frozen=True)
class AdapterTraining:
    """``training.json`` of a stored adapter (a ``TrainingReport``'s fields)."""

    kind: ClassVar[str] = "adapter training"
    trainable_params: int
    total_params: int
    losses: tuple[float, ...]
    tokens_per_second: float
    seconds: float
    steps: int
    examples: int
    truncated_examples: int
    # Absent from adapters trained before the ranking loss existed: they had none.
    ranking_losses: tuple[float, ...] = ()

    @staticmethod
    def relpath(adapter_key: str) -> str:
        return layout.adapter_training(adapter_key)

    def to_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__ if name != "kind"}
        data["losses"] = list(self.losses)
        data["ranking_losses"] = list(self.ranking_losses)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> AdapterTraining:
        required = [f for f in cls.__dataclass_fields__ if f not in ("kind", "ranking_losses")]
        check_keys(data, required, cls.kind, optional=["ranking_losses"])
        return cls(
            **{
                **data,
                "losses": tuple(float(x) for x in data["losses"]),
                "ranking_losses": tuple(float(x) for x in data.get("ranking_losses", ())),
            }
        )
