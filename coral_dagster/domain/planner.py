"""The evolution planner: one pure function that decides what to run next.

Both ``evolution_sensor`` and the ``coral evolve`` driver call ``plan_next``, so they can never
disagree. The planner sees only facts read from the Dagster instance (which steps are done for
which partitions, which runs are in flight or failed) and the generations' genomes; it returns
the partitions to add and the steps to launch. Done partitions are never requested again:
Dagster's materialization status is the cache index.

The planner speaks in steps (``Step``); which assets, partition set, job and placement a step
has is the orchestration layer's step table (``coral_dagster.orchestration.steps``). Steps:

- ``shared``: the problem split and the base model, before anything else; if it fails
  ``max_attempts`` times the evolution stops with its error;
- ``population`` for generation ``gNNNN`` (needs every genome of generation N-1 scored);
- ``adapter`` for an adapter key needed by an unscored genome and not trained yet;
- ``generate`` for genomes whose adapter is ready: the patches of their validation problems;
- ``score`` for genomes whose patches exist: sandboxed tests and objective scores. A genome
  whose ``adapter``, ``generate`` or ``score`` runs failed ``max_attempts`` times gets a *failure
  record* instead: a ``score`` run that stores fitness 0 with the reason, so the generation
  still completes (its attempts are counted apart, as task ``score-failure``);
- ``heldout`` for the final generation once it is scored: its best genomes and the baselines on
  the held-out test set. The step has its own partition set (the final generation only), which
  the planner adds to when the final generation is scored;
- ``report`` for a generation whose genomes all have scores; the final generation's report
  waits for the held-out evaluation.

``generate`` and ``score`` are batched: one run covers up to ``genomes_per_run`` genome
partitions that are contiguous in the partition set's order (a Dagster partition-range run), so
the model loads once per batch. A batch's attempt is the highest next attempt of its genomes;
a genome a batch run failed on counts that failure.

Only a run in which the step's own code raised is a failed attempt. A run that was interrupted
(driver killed, pod evicted, canceled, out of disk) is not; it is planned again, but a step
interrupted ``max_interruptions`` times without finishing stops the evolution with the last
cause (an endless relaunch is no answer to a full disk), never recording a genome as failed.
An artifact that cannot be recomputed (``blocked``) stops the evolution too.

Run keys are ``<task>:<partition>:<attempt>`` (a batch: ``<task>:<first partition>+<n-1>:
<hash of its partitions>:<attempt>``): Dagster drops a run request whose run key it has seen, so
duplicate ticks or racing planners launch a step once per attempt.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum


class Step(StrEnum):
    """The steps of an evolution (each becomes one Dagster run per partition)."""

    SHARED = "shared"
    POPULATION = "population"
    ADAPTER = "adapter"
    GENERATE = "generate"
    SCORE = "score"
    HELDOUT = "heldout"
    REPORT = "report"


BATCHED_STEPS = frozenset({Step.GENERATE, Step.SCORE})
FAILURE_SUFFIX = "-failure"
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


def task_name(step: Step, records_failure: bool = False) -> str:
    """What attempts are counted per: the step, or a ``score`` run recording a failure."""
    if records_failure and step is not Step.SCORE:
        raise ValueError(f"only {Step.SCORE} runs record failures, not {step}")
    return f"{step}{FAILURE_SUFFIX}" if records_failure else str(step)


@dataclass(frozen=True)
class GenomeSlot:
    """One genome of a generation, as the population lists it: its partition key and the
    partition key of its adapter."""

    genome: str
    adapter: str


@dataclass(frozen=True)
class StepState:
    """What the instance says about one (task, partition): in flight, how many runs failed and
    how many finished at all (a successful run counts too: a step planned again after success,
    e.g. an adapter whose files later failed their checksum, needs a new run key) and how many
    were interrupted (not attempts)."""

    in_flight: bool = False
    failures: int = 0  # failed attempts: runs in which the step's own code raised
    finished: int = 0
    last_error: str = ""
    interruptions: int = 0  # runs interrupted without an error of the step's own
    last_interruption: str = ""

    @property
    def next_attempt(self) -> int:
        return max(self.finished, self.failures) + 1


@dataclass(frozen=True)
class PlannerInput:
    generations: int  # total generations to run (config.evolution.generations)
    max_attempts: int  # runs per step before a genome is failed
    populations: Mapping[int, Sequence[GenomeSlot]]  # materialized populations by generation
    # step -> partitions for which every asset of the step is materialized
    # (the shared step: {SHARED_PARTITION} when done)
    done: Mapping[Step, frozenset[str]]
    steps: Mapping[tuple[str, str], StepState]  # (task, partition) -> state
    invalid_adapters: frozenset[str] = frozenset()  # materialized but failing their checksum
    stopped_early_after: int | None = None  # generation after which early stopping fired
    # step -> the keys of the step's partition set, in the set's order
    existing_partitions: Mapping[Step, tuple[str, ...]] = field(default_factory=dict)
    genomes_per_run: int = 1  # genome partitions one generate/score run covers
    max_interruptions: int = 5  # interrupted runs of one step before the evolution stops
    blocked: str | None = None  # an artifact that cannot be recomputed: the evolution stops


@dataclass(frozen=True)
class StepRequest:
    step: Step
    partitions: tuple[str, ...]  # one, or a batch contiguous in the partition set's order
    attempt: int
    generation: int
    reason: str = ""  # why it runs; for a failure record, the failure stored with the genome
    records_failure: bool = False

    def __post_init__(self) -> None:
        if not self.partitions:
            raise ValueError(f"a {self.step} request needs at least one partition")
        if len(self.partitions) > 1 and self.step not in BATCHED_STEPS:
            raise ValueError(f"{self.step} runs one partition at a time, got {self.partitions}")

    @property
    def partition_key(self) -> str:
        """The partition of a single-partition request (``ValueError`` for a batch)."""
        if len(self.partitions) != 1:
            raise ValueError(f"batch request of {len(self.partitions)} partitions has no one key")
        return self.partitions[0]

    @property
    def task(self) -> str:
        return task_name(self.step, self.records_failure)

    @property
    def run_key(self) -> str:
        if len(self.partitions) == 1:
            return f"{self.task}:{self.partitions[0]}:{self.attempt}"
        digest = hashlib.sha256("\n".join(self.partitions).encode()).hexdigest()[:16]
        first, more = self.partitions[0], len(self.partitions) - 1
        return f"{self.task}:{first}+{more}:{digest}:{self.attempt}"


@dataclass(frozen=True)
class Plan:
    generation: int  # the generation being worked on
    requests: tuple[StepRequest, ...]
    add_partitions: Mapping[Step, tuple[str, ...]]  # keys to add to each step's partition set
    waiting: int  # steps in flight
    finished: bool
    error: str | None = None  # a shared stage failed: the evolution stops
    progress: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # stage -> (done, total)


def _batches(keys: Sequence[str], order: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """``keys`` cut into runs of at most ``size`` that are contiguous in ``order``."""
    position = {k: i for i, k in enumerate(order)}
    missing = [k for k in keys if k not in position]
    if missing:
        raise ValueError(f"partitions {missing} are not in the partition set")
    batches: list[list[str]] = []
    for key in sorted(keys, key=position.__getitem__):
        last = batches[-1] if batches else None
        if last and len(last) < size and position[key] == position[last[-1]] + 1:
            last.append(key)
        else:
            batches.append([key])
    return [tuple(b) for b in batches]


def generation_progress(inp: PlannerInput, generation: int) -> dict[str, tuple[int, int]]:
    """Stage -> (done, total) for ``generation``'s genomes: adapters ready, genomes with patches,
    genomes scored. Empty while the generation has no population."""
    slots = list(inp.populations.get(generation, ()))
    if not slots:
        return {}
    scored = inp.done.get(Step.SCORE, frozenset())
    generated = inp.done.get(Step.GENERATE, frozenset()) | scored
    ready = inp.done.get(Step.ADAPTER, frozenset()) - inp.invalid_adapters
    adapters = list(dict.fromkeys(s.adapter for s in slots))
    return {
        "adapters": (len([k for k in adapters if k in ready]), len(adapters)),
        "patches": (len([s for s in slots if s.genome in generated]), len(slots)),
        "scores": (len([s for s in slots if s.genome in scored]), len(slots)),
    }


def plan_next(inp: PlannerInput) -> Plan:
    """Return what to launch now. Pure: same input, same plan."""
    add: dict[Step, list[str]] = {
        Step.ADAPTER: [],
        Step.GENERATE: [],
        Step.POPULATION: [],
        Step.HELDOUT: [],
    }

    def ensure(step: Step, key: str) -> None:
        if key not in inp.existing_partitions.get(step, ()) and key not in add[step]:
            add[step].append(key)

    def done(step: Step) -> frozenset[str]:
        return inp.done.get(step, frozenset())

    def state(task: str, key: str) -> StepState:
        return inp.steps.get((task, key), StepState())

    last = inp.generations - 1 if inp.stopped_early_after is None else inp.stopped_early_after

    # Find the first generation that is not complete (population + all scores + report).
    gen = 0
    while True:
        gkey = generation_key(gen)
        if gkey not in done(Step.POPULATION) or gen not in inp.populations:
            break
        scored = all(s.genome in done(Step.SCORE) for s in inp.populations[gen])
        if not scored or gkey not in done(Step.REPORT) or gen >= last:
            break
        gen += 1
    gkey = generation_key(gen)

    halted: list[str] = []  # steps interrupted too often: the evolution stops

    def finish(
        requests: Sequence[StepRequest],
        waiting: int,
        finished: bool = False,
        error: str | None = None,
        progress: Mapping[str, tuple[int, int]] | None = None,
    ) -> Plan:
        if error is None and halted:
            requests, finished, error = (), False, halted[0]
        return Plan(
            generation=gen,
            requests=tuple(requests),
            add_partitions={k: tuple(v) for k, v in add.items() if v},
            waiting=waiting,
            finished=finished,
            error=error,
            progress=progress or {},
        )

    def interrupted_too_often(task: str, key: str, st: StepState) -> bool:
        if st.interruptions < inp.max_interruptions:
            return False
        halted.append(
            f"{task} {key}: interrupted {st.interruptions} times without finishing (last: "
            f"{st.last_interruption}); fix the cause, then `coral retry-failed` (or `coral "
            "evolve --retry-failed`)"
        )
        return True

    def try_step(
        step: Step, key: str, reason: str, records_failure: bool = False
    ) -> tuple[StepRequest | None, bool, str | None]:
        """(request or None, in flight?, exhausted error)."""
        st = state(task_name(step, records_failure), key)
        if st.in_flight:
            return None, True, None
        if interrupted_too_often(task_name(step, records_failure), key, st):
            return None, False, None
        if st.failures >= inp.max_attempts:
            return None, False, st.last_error or f"{step} {key} failed {st.failures} times"
        request = StepRequest(step, (key,), st.next_attempt, gen, reason, records_failure)
        return request, False, None

    def single(step: Step, key: str, reason: str, what: str, progress=None) -> Plan:
        req, flying, err = try_step(step, key, reason)
        if err:
            return finish([], 0, error=f"{what}: {err}", progress=progress)
        return finish([req] if req else [], int(flying), progress=progress)

    if inp.blocked:
        return finish([], 0, error=inp.blocked)

    # 0. shared stages: the problem split and the converted base model
    if SHARED_PARTITION not in done(Step.SHARED):
        return single(Step.SHARED, SHARED_PARTITION, "shared stages missing", "shared stage")

    # 1. the population of this generation
    if gkey not in done(Step.POPULATION) or gen not in inp.populations:
        ensure(Step.POPULATION, gkey)
        return single(Step.POPULATION, gkey, "population missing", f"population {gkey}")

    slots = list(inp.populations[gen])
    requests: list[StepRequest] = []
    waiting = 0
    scored = done(Step.SCORE)
    ready_adapters = done(Step.ADAPTER) - inp.invalid_adapters
    failed_adapters: dict[str, str] = {}

    for s in slots:
        ensure(Step.GENERATE, s.genome)
        ensure(Step.ADAPTER, s.adapter)

    # 2. adapters needed by genomes that are not scored yet (deduplicated, in slot order), then
    #    any other adapter that failed its checksum (retrained: the store holds no broken one)
    needed = list(
        dict.fromkeys(
            [*(s.adapter for s in slots if s.genome not in scored), *sorted(inp.invalid_adapters)]
        )
    )
    for akey in needed:
        if akey in ready_adapters:
            continue
        invalid = akey in inp.invalid_adapters
        reason = "adapter failed its checksum" if invalid else "adapter missing"
        req, flying, err = try_step(Step.ADAPTER, akey, reason)
        if err:
            failed_adapters[akey] = err
        elif req:
            requests.append(req)
        waiting += int(flying)

    # 3. genomes: generate, then score, once their adapter is ready (batched); record a failure
    #    after max attempts of any of their steps
    ready: dict[Step, list[str]] = {Step.GENERATE: [], Step.SCORE: []}
    for s in dict((s.genome, s) for s in slots).values():
        if s.genome in scored:
            continue
        if s.adapter in failed_adapters:
            failure = f"adapter {s.adapter[:40]} failed: {failed_adapters[s.adapter]}"
        elif s.adapter not in ready_adapters:
            continue
        else:
            step = Step.SCORE if s.genome in done(Step.GENERATE) else Step.GENERATE
            st = state(str(step), s.genome)
            if st.in_flight:
                waiting += 1
                continue
            if interrupted_too_often(str(step), s.genome, st):
                continue
            if st.failures < inp.max_attempts:
                ready[step].append(s.genome)
                continue
            failure = f"{step}: {st.last_error or f'failed {st.failures} times'}"
        fail_req, flying, fail_err = try_step(Step.SCORE, s.genome, failure, True)
        waiting += int(flying)
        if fail_err:
            return finish(
                requests, waiting, error=f"cannot record failure of {s.genome}: {fail_err}"
            )
        if fail_req:
            requests.append(fail_req)
    order = [*inp.existing_partitions.get(Step.GENERATE, ()), *add[Step.GENERATE]]
    for step, keys in ready.items():
        for batch in _batches(keys, order, inp.genomes_per_run):
            attempt = max(state(str(step), k).next_attempt for k in batch)
            why = "patches generated" if step is Step.SCORE else "adapter ready"
            requests.append(StepRequest(step, batch, attempt, gen, why))

    progress = generation_progress(inp, gen)
    if requests or waiting:
        return finish(requests, waiting, progress=progress)

    # 4. every genome scored: held-out evaluation (final generation, the only partition of the
    #    held-out step's own set, added here), then the report
    if gen >= last:
        ensure(Step.HELDOUT, gkey)
    if gen >= last and gkey not in done(Step.HELDOUT):
        return single(Step.HELDOUT, gkey, "final generation scored", "heldout", progress)
    if gkey not in done(Step.REPORT):
        return single(Step.REPORT, gkey, "generation scored", "report", progress)
    # The search above stops at a complete generation only when it is the last one.
    return finish([], 0, finished=True, progress=progress)
