"""The pure planner: what runs next, given what the instance says."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from coral_dagster.domain.planner import (
    ADAPTER_PARTITIONS,
    GENERATION_PARTITIONS,
    GENOME_PARTITIONS,
    SHARED_PARTITION,
    GenomeSlot,
    PlannerInput,
    StepState,
    plan_next,
)

SHARED = {"problems": frozenset({SHARED_PARTITION}), "base_model": frozenset({SHARED_PARTITION})}
SLOTS = [GenomeSlot("ga", "a1"), GenomeSlot("gb", "a1"), GenomeSlot("gc", "a2")]


def state(materialized=None, populations=None, steps=None, generations=2, **kw) -> PlannerInput:
    mat = dict(SHARED)
    for name, keys in (materialized or {}).items():
        mat[name] = frozenset(keys)
    return PlannerInput(
        generations=generations,
        max_attempts=2,
        populations=populations or {},
        materialized=mat,
        steps=steps or {},
        **kw,
    )


def steps_of(plan):
    return [(r.step, r.partition_key) for r in plan.requests]


def test_shared_stages_come_first():
    plan = plan_next(state(materialized={"problems": set(), "base_model": set()}))
    assert steps_of(plan) == [("shared", SHARED_PARTITION)]
    assert plan.requests[0].run_key == f"shared:{SHARED_PARTITION}:1"


def test_shared_failure_stops_the_evolution():
    steps = {("shared", SHARED_PARTITION): StepState(failures=2, last_error="run x failure")}
    plan = plan_next(state(materialized={"problems": set(), "base_model": set()}, steps=steps))
    assert plan.error and "shared stage" in plan.error and "run x failure" in plan.error
    assert plan.requests == ()


def test_population_zero_is_requested_with_its_partition():
    plan = plan_next(state())
    assert steps_of(plan) == [("population", "g0000")]
    assert plan.add_partitions == {GENERATION_PARTITIONS: ("g0000",)}


def test_adapters_are_deduplicated_and_genome_partitions_added():
    plan = plan_next(state({"population": {"g0000"}}, {0: SLOTS}))
    assert steps_of(plan) == [("adapter", "a1"), ("adapter", "a2")]
    assert plan.add_partitions[GENOME_PARTITIONS] == ("ga", "gb", "gc")
    assert plan.add_partitions[ADAPTER_PARTITIONS] == ("a1", "a2")


def test_existing_partitions_are_not_added_again():
    existing = {
        GENOME_PARTITIONS: frozenset({"ga", "gb", "gc"}),
        ADAPTER_PARTITIONS: frozenset({"a1", "a2"}),
    }
    plan = plan_next(state({"population": {"g0000"}}, {0: SLOTS}, existing_partitions=existing))
    assert plan.add_partitions == {}


def test_genomes_run_once_their_adapter_is_ready():
    plan = plan_next(state({"population": {"g0000"}, "adapters": {"a1"}}, {0: SLOTS}))
    assert steps_of(plan) == [("adapter", "a2"), ("genome", "ga"), ("genome", "gb")]


def test_generated_but_unscored_genome_only_scores():
    mat = {"population": {"g0000"}, "adapters": {"a1", "a2"}, "generated_code": {"ga"}}
    plan = plan_next(state(mat, {0: SLOTS}))
    assert steps_of(plan) == [("score", "ga"), ("genome", "gb"), ("genome", "gc")]


def test_in_flight_steps_are_not_requested_twice():
    steps = {("adapter", "a1"): StepState(in_flight=True)}
    plan = plan_next(state({"population": {"g0000"}}, {0: SLOTS}, steps))
    assert steps_of(plan) == [("adapter", "a2")]
    assert plan.waiting == 1


def test_retry_gets_an_attempt_suffix():
    steps = {("adapter", "a1"): StepState(failures=1)}
    plan = plan_next(state({"population": {"g0000"}}, {0: SLOTS}, steps))
    assert plan.requests[0].run_key == "adapter:a1:2"


def test_exhausted_adapter_fails_its_genomes_with_reason():
    steps = {("adapter", "a1"): StepState(failures=2, last_error="OOM")}
    plan = plan_next(state({"population": {"g0000"}, "adapters": {"a2"}}, {0: SLOTS}, steps))
    assert steps_of(plan) == [("score_failed", "ga"), ("score_failed", "gb"), ("genome", "gc")]
    assert "OOM" in plan.requests[0].reason


def test_exhausted_genome_is_scored_as_failed():
    mat = {"population": {"g0000"}, "adapters": {"a1", "a2"}, "test_scores": {"ga", "gb"}}
    steps = {("genome", "gc"): StepState(failures=2, last_error="boom")}
    plan = plan_next(state(mat, {0: SLOTS}, steps))
    assert steps_of(plan) == [("score_failed", "gc")]
    assert plan.requests[0].reason == "boom"


def test_invalid_adapter_is_retrained_even_though_materialized():
    mat = {"population": {"g0000"}, "adapters": {"a1", "a2"}}
    trained_once = {("adapter", "a2"): StepState(finished=1)}
    plan = plan_next(state(mat, {0: SLOTS}, trained_once, invalid_adapters=frozenset({"a2"})))
    assert steps_of(plan) == [("adapter", "a2"), ("genome", "ga"), ("genome", "gb")]
    assert plan.requests[0].reason == "adapter failed its checksum"
    # A new run key: the sensor's first run key for this adapter was used by its training.
    assert plan.requests[0].run_key == "adapter:a2:2"


def test_scored_generation_is_reported_then_next_population():
    mat = {"population": {"g0000"}, "adapters": {"a1", "a2"}, "test_scores": {"ga", "gb", "gc"}}
    assert steps_of(plan_next(state(mat, {0: SLOTS}))) == [("report", "g0000")]
    mat["evolution_report"] = {"g0000"}
    plan = plan_next(state(mat, {0: SLOTS}))
    assert steps_of(plan) == [("population", "g0001")]
    assert plan.generation == 1
    assert plan.add_partitions == {GENERATION_PARTITIONS: ("g0001",)}


def test_final_generation_is_evaluated_held_out_then_reported_then_finished():
    slots1 = [GenomeSlot("ga", "a1"), GenomeSlot("gd", "a3")]
    mat = {
        "population": {"g0000", "g0001"},
        "adapters": {"a1", "a2", "a3"},
        "test_scores": {"ga", "gb", "gc", "gd"},
        "evolution_report": {"g0000"},
    }
    pops = {0: SLOTS, 1: slots1}
    assert steps_of(plan_next(state(mat, pops))) == [("heldout", "g0001")]
    mat["heldout_evaluation"] = {"g0001"}
    assert steps_of(plan_next(state(mat, pops))) == [("report", "g0001")]
    mat["evolution_report"] = {"g0000", "g0001"}
    plan = plan_next(state(mat, pops))
    assert plan.finished and plan.requests == () and plan.generation == 1


def test_elite_carried_over_costs_nothing():
    slots1 = [GenomeSlot("ga", "a1"), GenomeSlot("gd", "a3")]  # ga is an elite of g0000
    mat = {
        "population": {"g0000", "g0001"},
        "adapters": {"a1", "a2"},
        "test_scores": {"ga", "gb", "gc"},
        "evolution_report": {"g0000"},
    }
    plan = plan_next(state(mat, {0: SLOTS, 1: slots1}))
    assert steps_of(plan) == [("adapter", "a3")]


def test_early_stop_makes_the_current_generation_final():
    mat = {"population": {"g0000"}, "adapters": {"a1", "a2"}, "test_scores": {"ga", "gb", "gc"}}
    plan = plan_next(state(mat, {0: SLOTS}, generations=5, stopped_early_after=0))
    assert steps_of(plan) == [("heldout", "g0000")]


ASSET_OF_STEP = {
    "adapter": "adapters",
    "genome": "test_scores",
    "score": "test_scores",
    "score_failed": "test_scores",
    "population": "population",
    "report": "evolution_report",
    "heldout": "heldout_evaluation",
}


@settings(max_examples=200, deadline=None)
@given(
    adapters=st.sets(st.sampled_from(["a1", "a2", "a3"])),
    generated=st.sets(st.sampled_from(["ga", "gb", "gc", "gd"])),
    scored=st.sets(st.sampled_from(["ga", "gb", "gc", "gd"])),
    second=st.booleans(),
    reports=st.sets(st.sampled_from(["g0000", "g0001"])),
)
def test_materialized_partitions_are_never_requested(adapters, generated, scored, second, reports):
    pops = {0: SLOTS}
    populations = {"g0000"}
    if second:
        pops[1] = [GenomeSlot("ga", "a1"), GenomeSlot("gd", "a3")]
        populations.add("g0001")
    mat = {
        "population": populations,
        "adapters": adapters,
        "generated_code": generated,
        "test_scores": scored,
        "evolution_report": reports,
    }
    plan = plan_next(state(mat, pops))
    for r in plan.requests:
        asset = ASSET_OF_STEP[r.step]
        assert r.partition_key not in mat.get(asset, set()), (r, mat)
    assert len({r.run_key for r in plan.requests}) == len(plan.requests)
