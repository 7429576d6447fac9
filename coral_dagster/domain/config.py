"""Experiment configuration: one YAML file per experiment, validated by a typed pydantic schema.

Every section forbids unknown keys, so a typo fails with the key's dotted path. ``load_config``
turns pydantic's errors into ``ConfigError`` with one line per problem: ``<path>: <reason>``.
Every number is finite (NaN and infinities are refused everywhere) and bounded: sizes, counts
and seeds have an upper limit that the error names, so no setting can ask for a population of
10**7 or a timeout no clock can hold.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from coral_dagster.domain.genome import ADAPTER_TYPES, canonical_rule

OBJECTIVES: tuple[str, ...] = ("bugfix", "syntax", "style", "security", "runtime")


class ConfigError(ValueError):
    """A configuration file is invalid; ``problems`` holds one ``path: reason`` line each."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"invalid config {source}:\n" + "\n".join(f"  {p}" for p in problems))


MAX_SEED = 2**32 - 1  # every seed: numpy, torch and Python's random all take it


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Range(_Section):
    """A closed interval [low, high] that a feature in [0, 1] is mapped onto linearly."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) must be >= low ({self.low})")
        return self


class PopulationConfig(_Section):
    """Generation-0 population and the shape of every CA seed."""

    size: int = Field(4, ge=2, le=1000, description="genomes per generation")
    grid_size: int = Field(8, ge=3, le=64, description="CA grid side (cells)")
    density: float = Field(0.35, gt=0.0, lt=1.0, description="initial live-cell fraction")
    min_steps: int = Field(8, ge=1, le=10_000)
    max_steps: int = Field(32, ge=1, le=10_000)
    rules: list[str] = Field(
        default_factory=lambda: ["B3/S23", "B36/S23", "B3678/S34678", "B2/S", "B1357/S1357"],
        min_length=1,
        max_length=256,
        description="candidate Life-like rules for random seeds",
    )

    @field_validator("rules")
    @classmethod
    def _rules(cls, rules: list[str]) -> list[str]:
        return [canonical_rule(r) for r in rules]

    @model_validator(mode="after")
    def _steps(self) -> PopulationConfig:
        if self.max_steps < self.min_steps:
            raise ValueError(
                f"max_steps ({self.max_steps}) must be >= min_steps ({self.min_steps})"
            )
        return self


class GeneCandidates(_Section):
    """Candidate values for each heavy gene; mutation and initial mapping stay inside these lists.

    Lists are ordered: the feature->gene mapping picks by position, so neighbouring entries
    should be neighbouring values (sorted ascending).
    """

    ranks: list[int] = Field(default_factory=lambda: [4, 8, 16], min_length=1, max_length=64)
    alphas: list[float] = Field(
        default_factory=lambda: [8.0, 16.0, 32.0], min_length=1, max_length=64
    )
    dropouts: list[float] = Field(
        default_factory=lambda: [0.0, 0.05, 0.1], min_length=1, max_length=64
    )
    target_modules: list[list[str]] = Field(
        default_factory=lambda: [["q_proj", "v_proj"], ["q_proj", "k_proj", "v_proj", "o_proj"]],
        min_length=1,
        max_length=64,
    )
    adapter_types: list[Literal["lora", "dora"]] = Field(
        default_factory=lambda: ["lora", "dora"], min_length=1
    )
    learning_rates: list[float] = Field(
        default_factory=lambda: [1e-4, 3e-4, 1e-3], min_length=1, max_length=64
    )

    @field_validator("ranks")
    @classmethod
    def _ranks(cls, v: list[int]) -> list[int]:
        if any(not 1 <= r <= 4096 for r in v):
            raise ValueError("ranks must be in [1, 4096]")
        return v

    @field_validator("alphas")
    @classmethod
    def _alphas(cls, v: list[float]) -> list[float]:
        if any(not 0 < x <= 65536 for x in v):
            raise ValueError("alphas must be in (0, 65536]")
        return v

    @field_validator("learning_rates")
    @classmethod
    def _learning_rates(cls, v: list[float]) -> list[float]:
        if any(not 0 < x <= 1.0 for x in v):
            raise ValueError("learning rates must be in (0, 1]")
        return v

    @field_validator("dropouts")
    @classmethod
    def _dropouts(cls, v: list[float]) -> list[float]:
        if any(not 0.0 <= x < 1.0 for x in v):
            raise ValueError("dropouts must be in [0, 1)")
        return v

    @field_validator("target_modules")
    @classmethod
    def _modules(cls, v: list[list[str]]) -> list[list[str]]:
        if any(len(m) == 0 for m in v):
            raise ValueError("each target_modules entry must name at least one module")
        return v

    @field_validator("adapter_types")
    @classmethod
    def _types(cls, v: list[str]) -> list[str]:
        bad = [t for t in v if t not in ADAPTER_TYPES]
        if bad:
            raise ValueError(f"unknown adapter types {bad}")
        return v


# Knob -> (least low, greatest high): what decoding accepts (temperature, top_p and the
# repetition penalty > 0, after rounding to 6 digits; top_k 0 = off) within sensible bounds.
KNOB_LIMITS: dict[str, tuple[float, float]] = {
    "temperature": (0.01, 10.0),
    "top_p": (0.01, 1.0),
    "top_k": (0, 10_000),
    "repetition_penalty": (0.1, 10.0),
    "max_new_tokens": (1, 32_768),
}


class KnobRanges(_Section):
    """Ranges the CA features are mapped onto for the cheap knobs (decoding parameters), each
    within ``KNOB_LIMITS``."""

    temperature: Range = Range(low=0.2, high=1.2)
    top_p: Range = Range(low=0.7, high=1.0)
    top_k: Range = Range(low=10, high=100)
    repetition_penalty: Range = Range(low=1.0, high=1.3)
    max_new_tokens: Range = Range(low=96, high=256)
    sample_threshold: float = Field(
        0.15, ge=0.0, le=1.0, description="do_sample is on when the sampling drive exceeds this"
    )

    @field_validator(*KNOB_LIMITS)
    @classmethod
    def _within_limits(cls, span: Range, info: ValidationInfo) -> Range:
        least, greatest = KNOB_LIMITS[str(info.field_name)]
        if span.low < least or span.high > greatest:
            raise ValueError(
                f"must lie within [{least:g}, {greatest:g}], got [{span.low:g}, {span.high:g}]"
            )
        return span


class GateConfig(_Section):
    """Fitness threshold gate: survivors need fitness >= initial + step * generation (<= max)."""

    initial: float = Field(0.0, ge=0.0, le=1.0)
    step: float = Field(0.02, ge=0.0, le=1.0)
    max: float = Field(0.5, ge=0.0, le=1.0)


class EvolutionConfig(_Section):
    generations: int = Field(2, ge=1, le=1000)
    elite_count: int = Field(1, ge=0, le=1000)
    tournament_size: int = Field(2, ge=2, le=1000)
    crossover_rate: float = Field(0.9, ge=0.0, le=1.0)
    cell_mutation_rate: float = Field(0.05, ge=0.0, le=1.0)
    rule_mutation_rate: float = Field(0.1, ge=0.0, le=1.0)
    steps_mutation_rate: float = Field(0.2, ge=0.0, le=1.0)
    gene_mutation_rate: float = Field(0.2, ge=0.0, le=1.0)
    gate: GateConfig = GateConfig()
    patience: int = Field(
        3, ge=1, le=1000, description="early stop after this many generations w/o gain"
    )
    min_delta: float = Field(1e-3, ge=0.0, le=1.0, description="fitness gain that counts")
    max_offspring_attempts: int = Field(200, ge=1, le=1_000_000)


class SplitConfig(_Section):
    """Train/validation/test split: explicit lists, or a seeded split with fractions."""

    train: list[str] | None = None
    validation: list[str] | None = None
    test: list[str] | None = None
    seed: int = Field(0, ge=0, le=MAX_SEED)
    train_fraction: float = Field(0.5, gt=0.0, lt=1.0)
    validation_fraction: float = Field(0.25, gt=0.0, lt=1.0)

    @model_validator(mode="after")
    def _consistent(self) -> SplitConfig:
        explicit = [self.train, self.validation, self.test]
        if any(x is not None for x in explicit) and any(x is None for x in explicit):
            raise ValueError("give all of train, validation and test, or none (seeded split)")
        if self.train_fraction + self.validation_fraction >= 1.0:
            raise ValueError("train_fraction + validation_fraction must be < 1")
        return self


class ValidationBugsConfig(_Section):
    """Hard injected bugs added to the validation set (``pipeline.validation_bugs``): up to
    ``mutants_per_program`` mutants of each validation program's correct code that fail a test,
    whose fix is an ``edit`` candidate and whose top-ranked candidate under the base model fails
    a test. 0: none (the validation set is the validation programs' own bugs)."""

    mutants_per_program: int = Field(0, ge=0, le=1000)
    seed: int = Field(0, ge=0, le=MAX_SEED)


class BenchmarkConfig(_Section):
    dataset: str = Field("bundled", description="'bundled' or a QuixBugs-layout directory")
    split: SplitConfig = SplitConfig()
    max_validation_problems: int | None = Field(None, ge=1, le=100_000)
    max_test_problems: int | None = Field(None, ge=1, le=100_000)
    heldout_dataset: str | None = Field(
        None,
        description="a QuixBugs-layout directory whose every program is the held-out test set "
        "(training and validation keep `dataset`); None: the test split of `dataset`",
    )
    validation_bugs: ValidationBugsConfig = ValidationBugsConfig()


class PatchConfig(_Section):
    """What the model is asked for and how its answer becomes a candidate program.

    - ``function``: the whole fixed function;
    - ``line``: only the replacement of the marked line(s);
    - ``edit``: no free text; every single mechanical edit of the marked line is a candidate
      (``benchmark.mutations``), the model scores each and the genome's knobs draw from them.

    ``localization``: ``oracle`` marks the line(s) that differ between the buggy and the correct
    program (perfect fault localisation, as in APR papers); ``none`` marks nothing (``line``:
    the model names the line; ``edit``: every code line's edits are candidates).

    ``candidate_score`` (``edit``): ``mean`` / ``sum``: log-likelihood of the candidate's answer
    line in the repair prompt, per token or in total; ``program``: log-likelihood of the whole
    patched program as plain text (how natural the program reads to the model), no prompt.
    """

    format: Literal["function", "line", "edit"] = "function"
    localization: Literal["oracle", "none"] = "oracle"
    max_candidates: int = Field(
        200, ge=1, le=5000, description="edit format: candidates per problem, at most"
    )
    candidate_score: Literal["mean", "sum", "program"] = Field(
        "mean",
        description="edit format: rank candidates by the answer line's log-likelihood per token "
        "(mean) or in total (sum), or by the whole patched program's (program)",
    )
    draws: Literal["independent", "distinct"] = Field(
        "independent",
        description="edit format: i.i.d. draws from the knobs' distribution over candidates, "
        "or draws without replacement (no candidate is tried twice while the pool lasts)",
    )

    @model_validator(mode="after")
    def _program_scores_need_edit(self) -> PatchConfig:
        if self.candidate_score == "program" and self.format != "edit":
            raise ValueError(
                f"patch.candidate_score: program ranks edit candidates, it needs patch.format: "
                f"edit (got format {self.format!r})"
            )
        return self

    @model_validator(mode="after")
    def _draws_need_edit(self) -> PatchConfig:
        if self.draws == "distinct" and self.format != "edit":
            raise ValueError(
                f"patch.draws: distinct needs patch.format: edit (got format {self.format!r}): "
                "free-text answers are sampled independently"
            )
        return self


class CorpusConfig(_Section):
    """The injected-bug training corpus: mutants of the train split's correct programs."""

    mutants_per_program: int = Field(30, ge=0, le=1000)
    seed: int = Field(0, ge=0, le=MAX_SEED)


SANDBOX_UID_POOL = 1000  # bwrap as root: candidates run as uid/gid uid_base + (0..POOL-1)
_OVERFLOW_UIDS = (65534, 65535)  # nobody/nogroup and the 16-bit (uid_t)-1: never a sandbox uid
_MAX_UID = 2**32 - 2  # (uid_t)-1 = 2**32-1 means "unchanged" to setresuid: never reachable


class SandboxConfig(_Section):
    """Limits of the test sandbox. Every figure is finite, positive and within what the kernel
    accepts (NaN and infinities are rejected), so no setting can switch a limit off."""

    backend: Literal["bwrap", "process"] = "bwrap"
    cpu_accounting: Literal["cgroup2", "cgroup1"] = Field(
        "cgroup2",
        description="how the host measures the CPU time of the whole sandboxed process tree: "
        "a per-launch cgroup in the cgroup2 hierarchy (cpu.stat) or the cgroup v1 cpuacct one",
    )
    timeout_seconds: float = Field(5.0, gt=0.0, le=3600.0, description="wall clock per test case")
    cpu_seconds: int = Field(5, ge=1, le=3600, description="RLIMIT_CPU per test case")
    memory_mb: int = Field(512, ge=32, le=1 << 20, description="RLIMIT_AS (MiB)")
    max_processes: int = Field(32, ge=1, le=4096, description="RLIMIT_NPROC")
    max_file_mb: int = Field(8, ge=1, le=4096, description="RLIMIT_FSIZE (MiB)")
    max_open_files: int = Field(64, ge=8, le=65536, description="RLIMIT_NOFILE")
    max_output_bytes: int = Field(65536, ge=1024, le=64 << 20)
    tmp_mb: int = Field(
        64, ge=1, le=16384, description="size of the private writable tmpfs /tmp (MiB)"
    )
    startup_seconds: float = Field(
        5.0,
        gt=0.0,
        le=600.0,
        description="allowance for sandbox + interpreter start-up and module import",
    )
    workers: int = Field(2, ge=1, le=256, description="candidates evaluate_many runs concurrently")
    uid_base: int = Field(
        61000,
        ge=1000,
        le=_MAX_UID - SANDBOX_UID_POOL + 1,
        description="bwrap as root: code runs as uid/gid uid_base + (0..999); the range must "
        "stay clear of system uids (< 1000), 65534-65535 and 2**32-1",
    )

    @model_validator(mode="after")
    def _uid_range(self) -> SandboxConfig:
        last = self.uid_base + SANDBOX_UID_POOL - 1
        clash = [u for u in _OVERFLOW_UIDS if self.uid_base <= u <= last]
        if clash:
            raise ValueError(
                f"uid_base {self.uid_base}: the sandbox uids {self.uid_base}..{last} include "
                f"{clash} (nobody / the 16-bit overflow uid)"
            )
        return self


class ModelConfig(_Section):
    base_model: str = Field(
        "smollm2-135m", description="smollm2-135m | tiny-random | checkpoint dir"
    )
    device: str = Field("auto", description="auto | cpu | cuda")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"


class TrainingConfig(_Section):
    max_steps: int | None = Field(4, ge=1, le=1_000_000)
    epochs: float | None = Field(None, gt=0.0, le=1000.0)
    batch_size: int = Field(2, ge=1, le=4096)
    gradient_accumulation: int = Field(1, ge=1, le=4096)
    max_length: int = Field(512, ge=32, le=131_072)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    ranking_weight: float = Field(
        0.0,
        ge=0.0,
        le=100.0,
        description="line/edit patches: weight of the ranking loss that orders the fix above "
        "other single edits of its line (0: language-model loss only)",
    )
    ranking_negatives: int = Field(
        8, ge=1, le=1000, description="ranking loss: wrong edits ranked against each fix"
    )

    @model_validator(mode="after")
    def _budget(self) -> TrainingConfig:
        if self.max_steps is None and self.epochs is None:
            raise ValueError("set max_steps or epochs")
        return self


class GenerationConfig(_Section):
    seed: int = Field(0, ge=0, le=MAX_SEED)
    batch_size: int = Field(8, ge=1, le=4096)
    samples_per_problem: int = Field(
        1, ge=1, le=100, description="candidates per validation problem and genome"
    )
    bugfix: Literal["mean", "best"] = Field(
        "mean",
        description="a validation problem's bugfix score: the mean over its samples, or the "
        "best sample's (a problem counts as repaired when one sample passes every test)",
    )


class HeldoutConfig(_Section):
    samples_per_problem: int = Field(
        5, ge=1, le=1000, description="n samples per problem for pass@k"
    )
    top_genomes: int = Field(2, ge=1, le=100)
    bootstrap_resamples: int = Field(1000, ge=100, le=1_000_000)
    seed: int = Field(0, ge=0, le=MAX_SEED)


class RetryConfig(_Section):
    max_attempts: int = Field(
        2, ge=1, le=100, description="failed runs per step before its genome is failed"
    )


class ExecutionConfig(_Section):
    """How the work is split into runs; changes where work runs, never what it computes, so it
    is not part of the experiment's identity (``pipeline.inputs.experiment_id``)."""

    genomes_per_run: int = Field(
        8, ge=1, le=256, description="genome partitions one generate or score run covers"
    )
    max_interruptions: int = Field(
        5,
        ge=1,
        le=1000,
        description="interrupted runs of one step (driver killed, pod evicted, out of disk; "
        "never counted as failed attempts) before the evolution stops and says why",
    )


class Weights(_Section):
    """Objective weights for the overall fitness: non-negative, summing to 1."""

    bugfix: float = Field(0.6, ge=0.0, le=1.0)
    syntax: float = Field(0.1, ge=0.0, le=1.0)
    style: float = Field(0.1, ge=0.0, le=1.0)
    security: float = Field(0.1, ge=0.0, le=1.0)
    runtime: float = Field(0.1, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sum(self) -> Weights:
        total = sum(getattr(self, o) for o in OBJECTIVES)
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"weights must sum to 1, got {total:g}")
        return self

    def as_dict(self) -> dict[str, float]:
        return {o: float(getattr(self, o)) for o in OBJECTIVES}


class ExperimentConfig(_Section):
    name: str = Field("coral", min_length=1, max_length=200)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    population: PopulationConfig = PopulationConfig()
    genes: GeneCandidates = GeneCandidates()
    knobs: KnobRanges = KnobRanges()
    evolution: EvolutionConfig = EvolutionConfig()
    benchmark: BenchmarkConfig = BenchmarkConfig()
    sandbox: SandboxConfig = SandboxConfig()
    model: ModelConfig = ModelConfig()
    training: TrainingConfig = TrainingConfig()
    generation: GenerationConfig = GenerationConfig()
    heldout: HeldoutConfig = HeldoutConfig()
    retries: RetryConfig = RetryConfig()
    weights: Weights = Weights()
    patch: PatchConfig = PatchConfig()
    corpus: CorpusConfig = CorpusConfig()
    execution: ExecutionConfig = ExecutionConfig()

    @model_validator(mode="after")
    def _ranking_needs_lines(self) -> ExperimentConfig:
        if self.training.ranking_weight > 0 and self.patch.format == "function":
            raise ValueError(
                "training.ranking_weight: the ranking loss orders line edits, it needs "
                "patch.format line or edit (got function)"
            )
        return self

    @model_validator(mode="after")
    def _validation_bugs_need_edits(self) -> ExperimentConfig:
        if self.benchmark.validation_bugs.mutants_per_program > 0 and self.patch.format != "edit":
            raise ValueError(
                "benchmark.validation_bugs: hard bugs are chosen by the base model's ranking of "
                f"edit candidates, they need patch.format: edit (got {self.patch.format})"
            )
        return self

    @model_validator(mode="after")
    def _elites(self) -> ExperimentConfig:
        if self.evolution.elite_count >= self.population.size:
            raise ValueError(
                f"evolution.elite_count ({self.evolution.elite_count}) must be < "
                f"population.size ({self.population.size})"
            )
        return self


def _format_errors(err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "<root>"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{path}: {msg}")
    return lines


def parse_config(data: Any, source: str = "<config>") -> ExperimentConfig:
    """Validate a mapping (e.g. parsed YAML) into an ``ExperimentConfig``, else ``ConfigError``."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [f"<root>: expected a mapping, got {type(data).__name__}"])
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(source, _format_errors(err)) from None


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a YAML experiment config file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(str(path), [f"<file>: no such file {path}"])
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(
            str(path), [f"<file>: not UTF-8 text ({err.reason} at byte {err.start})"]
        ) from None
    except OSError as err:
        raise ConfigError(str(path), [f"<file>: cannot read it ({err.strerror or err})"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        problem = " ".join(str(err).split())  # one line
        raise ConfigError(str(path), [f"<yaml>: {problem}"]) from None
    except RecursionError:
        raise ConfigError(str(path), ["<yaml>: nested too deeply"]) from None
    return parse_config(data, source=str(path))


def config_to_dict(config: ExperimentConfig) -> dict[str, Any]:
    """Plain JSON-able dict of the full config (defaults filled in)."""
    return config.model_dump(mode="json")
