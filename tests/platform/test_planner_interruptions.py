"""The planner: interruptions are no failed attempts, but too many stop the evolution; an artifact
that cannot be recomputed stops it too."""

from __future__ import annotations

from coral_dagster.domain.planner import (
    SHARED_PARTITION,
    GenomeSlot,
    PlannerInput,
    Step,
    StepState,
    plan_next,
)

SLOTS = [GenomeSlot("ga", "a1"), GenomeSlot("gb", "a1"), GenomeSlot("gc", "a2")]


def planner_input(done=None, steps=None, **kw) -> PlannerInput:
    facts = {Step.SHARED: frozenset({SHARED_PARTITION})}
    facts.update({step: frozenset(keys) for step, keys in (done or {}).items()})
    return PlannerInput(
        generations=2,
        max_attempts=2,
        populations={0: SLOTS},
        done=facts,
        steps=steps or {},
        genomes_per_run=1,
        max_interruptions=3,
        **kw,
    )


def test_interrupted_shared_stage_is_planned_again_with_a_fresh_run_key():
    steps = {("shared", SHARED_PARTITION): StepState(finished=2, interruptions=2)}
    plan = plan_next(
        PlannerInput(
            generations=2,
            max_attempts=2,
            populations={},
            done={Step.SHARED: frozenset()},
            steps=steps,
            max_interruptions=3,
        )
    )
    assert plan.error is None
    assert [r.run_key for r in plan.requests] == [f"shared:{SHARED_PARTITION}:3"]


def test_interrupted_genome_steps_record_no_failure():
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1", "a2"}}
    steps = {
        ("generate", "gc"): StepState(finished=2, interruptions=2),
        ("adapter", "a2"): StepState(finished=2, interruptions=2),
    }
    plan = plan_next(planner_input(done, steps))
    assert plan.error is None
    assert not any(r.records_failure for r in plan.requests)
    assert ("generate", ("gc",), 3) in [(r.task, r.partitions, r.attempt) for r in plan.requests]


def test_a_step_interrupted_too_often_stops_the_evolution_without_recording_a_failure():
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1", "a2"}}
    last = "run r3 was interrupted: OSError: [Errno 28] No space left on device"
    steps = {("generate", "gc"): StepState(finished=3, interruptions=3, last_interruption=last)}
    plan = plan_next(planner_input(done, steps))
    assert plan.requests == ()
    assert plan.error is not None
    assert "generate gc: interrupted 3 times" in plan.error and last in plan.error
    assert "coral retry-failed" in plan.error


def test_an_adapter_interrupted_too_often_stops_the_evolution():
    steps = {("adapter", "a2"): StepState(finished=3, interruptions=3, last_interruption="gone")}
    plan = plan_next(planner_input({Step.POPULATION: {"g0000"}}, steps))
    assert plan.requests == () and plan.error is not None and "adapter a2" in plan.error


def test_failed_attempts_still_record_a_failure():
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1", "a2"}}
    steps = {("generate", "gc"): StepState(finished=3, failures=2, interruptions=1)}
    plan = plan_next(planner_input(done, steps))
    assert plan.error is None
    assert [r.partitions for r in plan.requests if r.records_failure] == [("gc",)]


def test_an_artifact_that_cannot_be_recomputed_blocks_the_evolution():
    plan = plan_next(planner_input({Step.POPULATION: {"g0000"}}, blocked="scores/x.json: bad"))
    assert plan.requests == () and plan.error == "scores/x.json: bad"


def test_an_adapter_that_failed_its_checksum_is_retrained_even_when_no_genome_needs_it():
    done = {
        Step.POPULATION: {"g0000"},
        Step.ADAPTER: {"a1", "a2"},
        Step.GENERATE: {"ga", "gb", "gc"},
        Step.SCORE: {"ga", "gb", "gc"},
    }
    plan = plan_next(planner_input(done, invalid_adapters=frozenset({"a1"})))
    assert [(r.task, r.partitions) for r in plan.requests] == [("adapter", ("a1",))]
