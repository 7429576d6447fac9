"""The step table: per step of the evolution, its assets, partition set, job, group and placement.

This is the one place where asset names, partition-set names and job names live (besides each
asset's own decorator). Jobs, the partitions definitions, the planner facts read from the
instance, run tags, placement and backfill selections all derive from ``STEPS``:

========== ================== ================= ================= =====
step       assets             partition set     job               where
========== ================== ================= ================= =====
shared     problems,          (none)            coral_shared      CPU
           training_corpus,
           base_model,
           validation_bugs
population population         generations       coral_generations CPU
adapter    adapters           adapter_keys      coral_adapters    GPU
generate   generated_code     genome_keys       coral_genomes     GPU
score      validation_scores  genome_keys       coral_genomes     CPU
heldout    heldout_evaluation final_generations coral_heldout     GPU
report     evolution_report   generations       coral_generations CPU
========== ================== ================= ================= =====

``final_generations`` holds only the generation the evolution ends with (the planner adds it when
that generation is scored), so the held-out evaluation is never shown "missing" for the
generations before it.

Every asset of the definitions belongs to exactly one step (a test holds it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from coral_dagster.domain.planner import Step
from coral_dagster.orchestration.placement import ComputeKind


@dataclass(frozen=True)
class StepSpec:
    """What one step materializes and where it runs."""

    step: Step
    assets: tuple[str, ...]
    partitions: str | None  # name of the dynamic partition set; None: unpartitioned
    job: str
    group: str  # asset group in the UI
    compute: ComputeKind


# The shared assets whose materializations record the fingerprint of what they stored (the
# corpus, the injected validation bugs; ``integrity`` reads them).
TRAINING_CORPUS = "training_corpus"
VALIDATION_BUGS = "validation_bugs"

STEPS: dict[Step, StepSpec] = {
    spec.step: spec
    for spec in (
        StepSpec(
            Step.SHARED,
            ("problems", TRAINING_CORPUS, "base_model", VALIDATION_BUGS),
            None,
            "coral_shared",
            "setup",
            ComputeKind.CPU,
        ),
        StepSpec(
            Step.POPULATION,
            ("population",),
            "generations",
            "coral_generations",
            "evolution",
            ComputeKind.CPU,
        ),
        StepSpec(
            Step.ADAPTER,
            ("adapters",),
            "adapter_keys",
            "coral_adapters",
            "adapters",
            ComputeKind.GPU,
        ),
        StepSpec(
            Step.GENERATE,
            ("generated_code",),
            "genome_keys",
            "coral_genomes",
            "genomes",
            ComputeKind.GPU,
        ),
        StepSpec(
            Step.SCORE,
            ("validation_scores",),
            "genome_keys",
            "coral_genomes",
            "genomes",
            ComputeKind.CPU,
        ),
        StepSpec(
            Step.HELDOUT,
            ("heldout_evaluation",),
            "final_generations",
            "coral_heldout",
            "evolution",
            ComputeKind.GPU,
        ),
        StepSpec(
            Step.REPORT,
            ("evolution_report",),
            "generations",
            "coral_generations",
            "evolution",
            ComputeKind.CPU,
        ),
    )
}


JOB_DESCRIPTIONS: dict[str, str] = {
    "coral_shared": "Shared stages: the problem split, the training corpus, the base model and "
    "the injected validation bugs.",
    "coral_generations": "Per generation: the population and the report.",
    "coral_heldout": "The final generation: its best genomes vs baselines on the held-out set.",
    "coral_adapters": "Per adapter key: train the LoRA/DoRA adapter of a heavy-gene set.",
    "coral_genomes": "Per genome key: generate patches, then score them in the sandbox.",
}


def step_of(asset_name: str) -> StepSpec:
    """The step an asset belongs to (``KeyError`` naming it when no step lists it)."""
    for spec in STEPS.values():
        if asset_name in spec.assets:
            return spec
    raise KeyError(f"asset {asset_name!r} belongs to no step of the step table")


def all_assets() -> Iterator[str]:
    for spec in STEPS.values():
        yield from spec.assets


def assets_of_job(job: str) -> tuple[str, ...]:
    return tuple(a for spec in STEPS.values() if spec.job == job for a in spec.assets)


def jobs() -> tuple[str, ...]:
    return tuple(dict.fromkeys(spec.job for spec in STEPS.values()))


def job_partitions(job: str) -> str | None:
    """The partition set of a job's steps (they must share one)."""
    sets = {spec.partitions for spec in STEPS.values() if spec.job == job}
    if len(sets) != 1:
        raise ValueError(f"job {job} spans partition sets {sorted(map(str, sets))}")
    return sets.pop()


def job_compute(job: str) -> ComputeKind:
    """GPU when any step of the job needs a GPU."""
    kinds = {spec.compute for spec in STEPS.values() if spec.job == job}
    return ComputeKind.GPU if ComputeKind.GPU in kinds else ComputeKind.CPU


def step_asset(step: Step, **kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """``@asset`` for an asset of ``step``: the function's name must be one of the step's assets;
    partitions, group and op tags (placement) come from the table."""
    from dagster import asset

    from coral_dagster.orchestration.partitions import partitions_def
    from coral_dagster.orchestration.placement import op_tags_for

    spec = STEPS[step]

    def decorate(fn: Callable[..., Any]) -> Any:
        if fn.__name__ not in spec.assets:
            raise ValueError(f"asset {fn.__name__!r} is not listed under step {step} ({spec})")
        return asset(
            partitions_def=partitions_def(spec.partitions),
            group_name=spec.group,
            op_tags=op_tags_for(spec.compute),
            **kwargs,
        )(fn)

    return decorate


def batched_step_asset(
    step: Step,
    checks: Sequence[tuple[str, str]] = (),
    deps: Sequence[Any] = (),
    max_partitions_per_run: int = 8,
) -> Callable[[Callable[..., Any]], Any]:
    """The asset of a batched step (``generate``, ``score``): one run may cover several of its
    partitions (a partition range), and the function materializes each partition itself.

    A ``multi_asset`` with ``can_subset=True``: it yields an ``AssetMaterialization`` and an
    ``AssetCheckEvaluation`` per partition (``checks``: ``(name, description)`` of each check)
    instead of one output for the whole range, so every partition gets its own materialization,
    metadata and checks, and a partition the function does not materialize stays missing. (The
    check specs carry no partitions definition, which Dagster 1.13 has only in preview; each
    evaluation names its partition.) The UI's backfills cut ranges with
    ``BackfillPolicy.multi_run(max_partitions_per_run)``.
    """
    from dagster import AssetCheckSpec, AssetSpec, BackfillPolicy, multi_asset

    from coral_dagster.orchestration.partitions import partitions_def
    from coral_dagster.orchestration.placement import op_tags_for

    spec = STEPS[step]
    partitions = partitions_def(spec.partitions)

    def decorate(fn: Callable[..., Any]) -> Any:
        if fn.__name__ not in spec.assets:
            raise ValueError(f"asset {fn.__name__!r} is not listed under step {step} ({spec})")
        return multi_asset(
            name=fn.__name__,
            specs=[
                AssetSpec(
                    fn.__name__,
                    deps=list(deps),
                    partitions_def=partitions,
                    group_name=spec.group,
                    description=(fn.__doc__ or "").strip() or None,
                )
            ],
            check_specs=[
                AssetCheckSpec(name, asset=fn.__name__, description=text) for name, text in checks
            ],
            can_subset=True,
            op_tags=op_tags_for(spec.compute),
            backfill_policy=BackfillPolicy.multi_run(max_partitions_per_run),
        )(fn)

    return decorate
