"""The evolution planner: one pure function that decides what to run next.

Both ``evolution_sensor`` and the ``coral evolve`` driver call ``plan_next``, so they can never
disagree. The planner sees only facts read from the Dagster instance (which partitions are
materialized, which runs are in flight or failed) and the current generation's genomes; it
returns the dynamic partitions to add and the steps to launch. Materialized partitions are never
requested again: Dagster's materialization status is the cache index.

Steps (each becomes one Dagster run):

- ``population`` for generation ``gNNNN`` (needs every genome of generation N-1 scored);
- ``adapter`` for an adapter key (``adapters`` asset) no materialization holds yet;
- ``genome`` for a genome key whose adapter is ready: ``generated_code`` + ``test_scores``
  (``score``: ``test_scores`` alone when its generated code is already materialized);
- ``score_failed`` for a genome whose runs failed ``max_attempts`` times: ``test_scores`` records
  fitness 0 with the reason, so the generation still completes;
- ``heldout`` for the final generation once it is scored: its best genomes and the baselines on
  the held-out test split (``heldout_evaluation``);
- ``report`` for a generation whose genomes all have scores (``evolution_report``); the final
  generation's report waits for the held-out evaluation.

Before any of these, ``shared`` materializes ``problems`` and ``base_model``; if it fails
``max_attempts`` times the evolution stops with its error.

Run keys are ``<step>:<partition>:<attempt>``: Dagster drops a run request whose run key it has
seen, so duplicate ticks or racing planners launch a step once per attempt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

ADAPTER_PARTITIONS = "adapter_keys"
GENOME_PARTITIONS = "genome_keys"
GENERATION_PARTITIONS = "generations"

STEP_ASSETS: dict[str, tuple[str, ...]] = {
    "shared": ("problems", "base_model"),
    "population": ("population",),
    "adapter": ("adapters",),
    "genome": ("generated_code", "test_scores"),
    "score": ("test_scores",),
    "score_failed": ("test_scores",),
    "heldout": ("heldout_evaluation",),
    "report": ("evolution_report",),
}

SHARED_PARTITION = "__shared__"


def generation_key(index: int) -> str:
    """Partition key of generation ``index``: ``g0000``, ``g0001``, ..."""
    if index < 0:
        raise ValueError(f"generation index must be >= 0, got {index}")
    return f"g{index:04d}"


def generation_index(key: str) -> int:
    if len(key) != 5 or not key.startswith("g") or not key[1:].isdigit():
        raise ValueError(f"{key!r} is not a generation partition key like 'g0000'")
    return int(key[1:])


@dataclass(frozen=True)
class GenomeSlot:
    """One genome of a generation, as the population artifact lists it."""

    genome_key: str
    adapter_key: str


@dataclass(frozen=True)
class StepState:
    """What the instance says about one (step, partition): in flight, how many runs failed and
    how many finished at all (a successful run counts too: a step planned again after success,
    e.g. an adapter whose files later failed their checksum, needs a new run key)."""

    in_flight: bool = False
    failures: int = 0
    finished: int = 0
    last_error: str = ""

    @property
    def next_attempt(self) -> int:
        return max(self.finished, self.failures) + 1


@dataclass(frozen=True)
class PlannerInput:
    generations: int  # total generations to run (config.evolution.generations)
    max_attempts: int  # runs per step before a genome is failed
    populations: Mapping[int, Sequence[GenomeSlot]]  # materialized populations by generation
    # asset name -> materialized partition keys (unpartitioned assets: {SHARED_PARTITION})
    materialized: Mapping[str, frozenset[str]]
    steps: Mapping[tuple[str, str], StepState]  # (step, partition) -> state
    invalid_adapters: frozenset[str] = frozenset()  # materialized but failing their checksum
    stopped_early_after: int | None = None  # generation after which early stopping fired
    existing_partitions: Mapping[str, frozenset[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class StepRequest:
    step: str
    partition_key: str
    attempt: int
    generation: int
    reason: str = ""

    @property
    def run_key(self) -> str:
        return f"{self.step}:{self.partition_key}:{self.attempt}"

    @property
    def assets(self) -> tuple[str, ...]:
        return STEP_ASSETS[self.step]


@dataclass(frozen=True)
class Plan:
    generation: int  # the generation being worked on
    requests: tuple[StepRequest, ...]
    add_partitions: Mapping[str, tuple[str, ...]]
    waiting: int  # steps in flight
    finished: bool
    error: str | None = None  # a shared stage failed: the evolution stops
    progress: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # stage -> (done, total)


def _state(inp: PlannerInput, step: str, key: str) -> StepState:
    return inp.steps.get((step, key), StepState())


def plan_next(inp: PlannerInput) -> Plan:
    """Return what to launch now. Pure: same input, same plan."""
    add: dict[str, list[str]] = {
        ADAPTER_PARTITIONS: [],
        GENOME_PARTITIONS: [],
        GENERATION_PARTITIONS: [],
    }

    def ensure(defn: str, key: str) -> None:
        if key not in inp.existing_partitions.get(defn, frozenset()) and key not in add[defn]:
            add[defn].append(key)

    mat = {k: set(v) for k, v in inp.materialized.items()}
    populations_done = mat.get("population", set())
    reports_done = mat.get("evolution_report", set())
    last = inp.generations - 1 if inp.stopped_early_after is None else inp.stopped_early_after

    # Find the first generation that is not complete (population + all scores + report).
    gen = 0
    while True:
        gkey = generation_key(gen)
        if gkey not in populations_done or gen not in inp.populations:
            break
        slots = inp.populations[gen]
        scored = all(s.genome_key in mat.get("test_scores", set()) for s in slots)
        if not scored or gkey not in reports_done or gen >= last:
            break
        gen += 1
    gkey = generation_key(gen)

    def finish(
        requests: list[StepRequest],
        waiting: int,
        finished: bool = False,
        error: str | None = None,
        progress: dict | None = None,
    ) -> Plan:
        return Plan(
            generation=gen,
            requests=tuple(requests),
            add_partitions={k: tuple(v) for k, v in add.items() if v},
            waiting=waiting,
            finished=finished,
            error=error,
            progress=progress or {},
        )

    def try_step(step: str, key: str, reason: str) -> tuple[StepRequest | None, bool, str | None]:
        """(request or None, in flight?, exhausted error)."""
        st = _state(inp, step, key)
        if st.in_flight:
            return None, True, None
        if st.failures >= inp.max_attempts:
            return None, False, st.last_error or f"{step} {key} failed {st.failures} times"
        return StepRequest(step, key, st.next_attempt, gen, reason), False, None

    # 0. shared stages: the problem split and the converted base model
    if not {"problems", "base_model"} <= {a for a, keys in mat.items() if SHARED_PARTITION in keys}:
        req, flying, err = try_step("shared", SHARED_PARTITION, "shared stages missing")
        if err:
            return finish([], 0, error=f"shared stage (problems, base_model) failed: {err}")
        return finish([req] if req else [], int(flying))

    # 1. the population of this generation
    if gkey not in populations_done or gen not in inp.populations:
        ensure(GENERATION_PARTITIONS, gkey)
        req, flying, err = try_step("population", gkey, "population missing")
        if err:
            return finish([], 0, error=f"population {gkey}: {err}")
        return finish([req] if req else [], int(flying))

    slots = list(inp.populations[gen])
    requests: list[StepRequest] = []
    waiting = 0
    scored_keys = mat.get("test_scores", set())
    ready_adapters = mat.get("adapters", set()) - set(inp.invalid_adapters)
    generated = mat.get("generated_code", set())
    failed_adapters: dict[str, str] = {}

    for s in slots:
        ensure(GENOME_PARTITIONS, s.genome_key)
        ensure(ADAPTER_PARTITIONS, s.adapter_key)

    # 2. adapters needed by genomes that are not scored yet (deduplicated, in slot order)
    needed = list(dict.fromkeys(s.adapter_key for s in slots if s.genome_key not in scored_keys))
    for akey in needed:
        if akey in ready_adapters:
            continue
        req, flying, err = try_step(
            "adapter",
            akey,
            "adapter missing"
            if akey not in inp.invalid_adapters
            else "adapter failed its checksum",
        )
        if err:
            failed_adapters[akey] = err
        elif req:
            requests.append(req)
        waiting += int(flying)

    # 3. genomes: generate + score once their adapter is ready; fail them after max attempts
    for s in slots:
        if s.genome_key in scored_keys:
            continue
        if s.adapter_key in failed_adapters:
            reason = f"adapter {s.adapter_key[:12]} failed: {failed_adapters[s.adapter_key]}"
        elif s.adapter_key not in ready_adapters:
            continue
        else:
            step = "score" if s.genome_key in generated else "genome"
            req, flying, err = try_step(step, s.genome_key, "adapter ready")
            waiting += int(flying)
            if req:
                requests.append(req)
            if not err:
                continue
            reason = err
        fail_req, flying, fail_err = try_step("score_failed", s.genome_key, reason)
        waiting += int(flying)
        if fail_err:
            return finish(
                requests, waiting, error=f"cannot record failure of {s.genome_key}: {fail_err}"
            )
        if fail_req:
            requests.append(fail_req)

    progress = {
        "adapters": (
            len([k for k in dict.fromkeys(s.adapter_key for s in slots) if k in ready_adapters]),
            len(set(s.adapter_key for s in slots)),
        ),
        "scores": (len([s for s in slots if s.genome_key in scored_keys]), len(slots)),
    }
    if requests or waiting:
        return finish(requests, waiting, progress=progress)

    # 4. every genome scored: held-out evaluation (final generation), then the report
    if gen >= last and gkey not in mat.get("heldout_evaluation", set()):
        req, flying, err = try_step("heldout", gkey, "final generation scored")
        if err:
            return finish([], 0, error=f"heldout_evaluation {gkey}: {err}", progress=progress)
        return finish([req] if req else [], int(flying), progress=progress)
    if gkey not in reports_done:
        req, flying, err = try_step("report", gkey, "generation scored")
        if err:
            return finish([], 0, error=f"evolution_report {gkey}: {err}", progress=progress)
        return finish([req] if req else [], int(flying), progress=progress)
    # The search above stops at a complete generation only when it is the last one.
    return finish([], 0, finished=True, progress=progress)
