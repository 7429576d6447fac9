"""The pure planner: what runs next, given what the instance says."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from coral_dagster.domain.planner import (
    SHARED_PARTITION,
    GenomeSlot,
    PlannerInput,
    Step,
    StepState,
    plan_next,
)

SLOTS = [GenomeSlot("ga", "a1"), GenomeSlot("gb", "a1"), GenomeSlot("gc", "a2")]


def state(done=None, populations=None, steps=None, generations=2, shared=True, **kw):
    facts = {Step.SHARED: frozenset({SHARED_PARTITION} if shared else set())}
    for step, keys in (done or {}).items():
        facts[step] = frozenset(keys)
    kw.setdefault("genomes_per_run", 1)
    return PlannerInput(
        generations=generations,
        max_attempts=2,
        populations=populations or {},
        done=facts,
        steps=steps or {},
        **kw,
    )


def steps_of(plan):
    return [
        (r.task, r.partitions[0] if len(r.partitions) == 1 else r.partitions) for r in plan.requests
    ]


def test_shared_stages_come_first():
    plan = plan_next(state(shared=False))
    assert steps_of(plan) == [("shared", SHARED_PARTITION)]
    assert plan.requests[0].run_key == f"shared:{SHARED_PARTITION}:1"


def test_shared_failure_stops_the_evolution():
    steps = {("shared", SHARED_PARTITION): StepState(failures=2, last_error="run x failure")}
    plan = plan_next(state(shared=False, steps=steps))
    assert plan.error and "shared stage" in plan.error and "run x failure" in plan.error
    assert plan.requests == ()


def test_population_zero_is_requested_with_its_partition():
    plan = plan_next(state())
    assert steps_of(plan) == [("population", "g0000")]
    assert plan.add_partitions == {Step.POPULATION: ("g0000",)}


def test_adapters_are_deduplicated_and_genome_partitions_added():
    plan = plan_next(state({Step.POPULATION: {"g0000"}}, {0: SLOTS}))
    assert steps_of(plan) == [("adapter", "a1"), ("adapter", "a2")]
    assert plan.add_partitions[Step.GENERATE] == ("ga", "gb", "gc")
    assert plan.add_partitions[Step.ADAPTER] == ("a1", "a2")


def test_existing_partitions_are_not_added_again():
    existing = {Step.GENERATE: ("ga", "gb", "gc"), Step.ADAPTER: ("a1", "a2")}
    plan = plan_next(state({Step.POPULATION: {"g0000"}}, {0: SLOTS}, existing_partitions=existing))
    assert plan.add_partitions == {}


def test_genomes_generate_once_their_adapter_is_ready():
    plan = plan_next(state({Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1"}}, {0: SLOTS}))
    assert steps_of(plan) == [("adapter", "a2"), ("generate", "ga"), ("generate", "gb")]


def test_generated_genome_is_scored():
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1", "a2"}, Step.GENERATE: {"ga"}}
    plan = plan_next(state(done, {0: SLOTS}))
    assert steps_of(plan) == [("generate", "gb"), ("generate", "gc"), ("score", "ga")]
    assert plan.progress["patches"] == (1, 3)


def test_in_flight_steps_are_not_requested_twice():
    steps = {("adapter", "a1"): StepState(in_flight=True)}
    plan = plan_next(state({Step.POPULATION: {"g0000"}}, {0: SLOTS}, steps))
    assert steps_of(plan) == [("adapter", "a2")]
    assert plan.waiting == 1


def test_retry_gets_an_attempt_suffix():
    steps = {("adapter", "a1"): StepState(failures=1)}
    plan = plan_next(state({Step.POPULATION: {"g0000"}}, {0: SLOTS}, steps))
    assert plan.requests[0].run_key == "adapter:a1:2"


def test_exhausted_adapter_fails_its_genomes_with_reason():
    steps = {("adapter", "a1"): StepState(failures=2, last_error="OOM")}
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a2"}}
    plan = plan_next(state(done, {0: SLOTS}, steps))
    assert steps_of(plan) == [("score-failure", "ga"), ("score-failure", "gb"), ("generate", "gc")]
    first = plan.requests[0]
    assert first.step is Step.SCORE and first.records_failure and "OOM" in first.reason
    assert first.run_key == "score-failure:ga:1"


def test_exhausted_generation_is_recorded_as_failed():
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1", "a2"}, Step.SCORE: {"ga", "gb"}}
    steps = {("generate", "gc"): StepState(failures=2, last_error="boom")}
    plan = plan_next(state(done, {0: SLOTS}, steps))
    assert steps_of(plan) == [("score-failure", "gc")]
    assert plan.requests[0].reason == "generate: boom"


def test_exhausted_scoring_is_recorded_as_failed():
    done = {
        Step.POPULATION: {"g0000"},
        Step.ADAPTER: {"a1", "a2"},
        Step.GENERATE: {"gc"},
        Step.SCORE: {"ga", "gb"},
    }
    steps = {("score", "gc"): StepState(failures=2, last_error="sandbox gone")}
    plan = plan_next(state(done, {0: SLOTS}, steps))
    assert steps_of(plan) == [("score-failure", "gc")]


def test_a_failure_record_that_fails_too_stops_the_evolution():
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1", "a2"}, Step.SCORE: {"ga", "gb"}}
    steps = {
        ("generate", "gc"): StepState(failures=2),
        ("score-failure", "gc"): StepState(failures=2, last_error="disk"),
    }
    plan = plan_next(state(done, {0: SLOTS}, steps))
    assert plan.error and "cannot record failure of gc" in plan.error


def test_invalid_adapter_is_retrained_even_though_materialized():
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1", "a2"}}
    trained_once = {("adapter", "a2"): StepState(finished=1)}
    plan = plan_next(state(done, {0: SLOTS}, trained_once, invalid_adapters=frozenset({"a2"})))
    assert steps_of(plan) == [("adapter", "a2"), ("generate", "ga"), ("generate", "gb")]
    assert plan.requests[0].reason == "adapter failed its checksum"
    # A new run key: the sensor's first run key for this adapter was used by its training.
    assert plan.requests[0].run_key == "adapter:a2:2"


def test_scored_generation_is_reported_then_next_population():
    done = {
        Step.POPULATION: {"g0000"},
        Step.ADAPTER: {"a1", "a2"},
        Step.SCORE: {"ga", "gb", "gc"},
    }
    assert steps_of(plan_next(state(done, {0: SLOTS}))) == [("report", "g0000")]
    done[Step.REPORT] = {"g0000"}
    plan = plan_next(state(done, {0: SLOTS}))
    assert steps_of(plan) == [("population", "g0001")]
    assert plan.generation == 1
    assert plan.add_partitions == {Step.POPULATION: ("g0001",)}


def test_final_generation_is_evaluated_held_out_then_reported_then_finished():
    slots1 = [GenomeSlot("ga", "a1"), GenomeSlot("gd", "a3")]
    done = {
        Step.POPULATION: {"g0000", "g0001"},
        Step.ADAPTER: {"a1", "a2", "a3"},
        Step.SCORE: {"ga", "gb", "gc", "gd"},
        Step.REPORT: {"g0000"},
    }
    pops = {0: SLOTS, 1: slots1}
    assert steps_of(plan_next(state(done, pops))) == [("heldout", "g0001")]
    done[Step.HELDOUT] = {"g0001"}
    assert steps_of(plan_next(state(done, pops))) == [("report", "g0001")]
    done[Step.REPORT] = {"g0000", "g0001"}
    plan = plan_next(state(done, pops))
    assert plan.finished and plan.requests == () and plan.generation == 1


def test_heldout_partition_is_added_for_the_final_generation_only():
    done = {
        Step.POPULATION: {"g0000"},
        Step.ADAPTER: {"a1", "a2"},
        Step.SCORE: {"ga", "gb", "gc"},
    }
    # not final yet: the report of g0000, and no held-out partition
    plan = plan_next(state(done, {0: SLOTS}, generations=2))
    assert steps_of(plan) == [("report", "g0000")]
    assert Step.HELDOUT not in plan.add_partitions
    # final (one generation): the held-out step's own partition set gets g0000
    plan = plan_next(state(done, {0: SLOTS}, generations=1))
    assert steps_of(plan) == [("heldout", "g0000")]
    assert plan.add_partitions[Step.HELDOUT] == ("g0000",)
    # added once only
    existing = {Step.HELDOUT: ("g0000",)}
    plan = plan_next(state(done, {0: SLOTS}, generations=1, existing_partitions=existing))
    assert Step.HELDOUT not in plan.add_partitions


def test_finished_home_without_its_heldout_partition_gets_it_added():
    """A home evaluated before the held-out step had its own partition set: the planner adds the
    final generation to it (no step runs), so the UI shows the existing materialization."""
    done = {
        Step.POPULATION: {"g0000"},
        Step.ADAPTER: {"a1", "a2"},
        Step.SCORE: {"ga", "gb", "gc"},
        Step.HELDOUT: {"g0000"},
        Step.REPORT: {"g0000"},
    }
    existing = {Step.GENERATE: ("ga", "gb", "gc"), Step.ADAPTER: ("a1", "a2")}
    plan = plan_next(state(done, {0: SLOTS}, generations=1, existing_partitions=existing))
    assert plan.finished and plan.requests == ()
    assert plan.add_partitions == {Step.HELDOUT: ("g0000",)}


def test_elite_carried_over_costs_nothing():
    slots1 = [GenomeSlot("ga", "a1"), GenomeSlot("gd", "a3")]  # ga is an elite of g0000
    done = {
        Step.POPULATION: {"g0000", "g0001"},
        Step.ADAPTER: {"a1", "a2"},
        Step.SCORE: {"ga", "gb", "gc"},
        Step.REPORT: {"g0000"},
    }
    plan = plan_next(state(done, {0: SLOTS, 1: slots1}))
    assert steps_of(plan) == [("adapter", "a3")]


def test_early_stop_makes_the_current_generation_final():
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1", "a2"}, Step.SCORE: {"ga", "gb", "gc"}}
    plan = plan_next(state(done, {0: SLOTS}, generations=5, stopped_early_after=0))
    assert steps_of(plan) == [("heldout", "g0000")]


@settings(max_examples=200, deadline=None)
@given(
    adapters=st.sets(st.sampled_from(["a1", "a2", "a3"])),
    generated=st.sets(st.sampled_from(["ga", "gb", "gc", "gd"])),
    scored=st.sets(st.sampled_from(["ga", "gb", "gc", "gd"])),
    second=st.booleans(),
    reports=st.sets(st.sampled_from(["g0000", "g0001"])),
)
def test_done_partitions_are_never_requested(adapters, generated, scored, second, reports):
    pops = {0: SLOTS}
    populations = {"g0000"}
    if second:
        pops[1] = [GenomeSlot("ga", "a1"), GenomeSlot("gd", "a3")]
        populations.add("g0001")
    done = {
        Step.POPULATION: populations,
        Step.ADAPTER: adapters,
        Step.GENERATE: generated,
        Step.SCORE: scored,
        Step.REPORT: reports,
    }
    plan = plan_next(state(done, pops))
    for r in plan.requests:
        assert r.partition_key not in done.get(r.step, set()), (r, done)
    assert len({r.run_key for r in plan.requests}) == len(plan.requests)


ORDER = ("gx", "ga", "gb", "gc", "gd")  # the genome partition set, in order


def test_genomes_are_batched_in_contiguous_runs_of_the_partition_order():
    slots = [GenomeSlot("ga", "a1"), GenomeSlot("gb", "a1"), GenomeSlot("gc", "a1")]
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1"}}
    plan = plan_next(
        state(done, {0: slots}, existing_partitions={Step.GENERATE: ORDER}, genomes_per_run=8)
    )
    (request,) = plan.requests
    assert request.step is Step.GENERATE and request.partitions == ("ga", "gb", "gc")
    assert request.run_key.startswith("generate:ga+2:") and request.run_key.endswith(":1")
    # A batch is cut at genomes_per_run and wherever the partition order has a gap (gb done).
    done[Step.GENERATE] = {"gb"}
    plan = plan_next(
        state(done, {0: slots}, existing_partitions={Step.GENERATE: ORDER}, genomes_per_run=8)
    )
    assert sorted((r.task, r.partitions) for r in plan.requests) == [
        ("generate", ("ga",)),
        ("generate", ("gc",)),
        ("score", ("gb",)),
    ]
    plan = plan_next(
        state(
            {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1"}},
            {0: slots},
            existing_partitions={Step.GENERATE: ORDER},
            genomes_per_run=2,
        )
    )
    assert [r.partitions for r in plan.requests] == [("ga", "gb"), ("gc",)]


def test_a_batch_retries_with_the_highest_attempt_of_its_genomes():
    slots = [GenomeSlot("ga", "a1"), GenomeSlot("gb", "a1")]
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1"}}
    steps = {("generate", "gb"): StepState(failures=1, finished=1)}
    plan = plan_next(
        state(
            done, {0: slots}, steps, existing_partitions={Step.GENERATE: ORDER}, genomes_per_run=4
        )
    )
    (request,) = plan.requests
    assert request.partitions == ("ga", "gb") and request.attempt == 2


def test_a_genome_in_flight_is_left_out_of_new_batches():
    slots = [GenomeSlot("ga", "a1"), GenomeSlot("gb", "a1"), GenomeSlot("gc", "a1")]
    done = {Step.POPULATION: {"g0000"}, Step.ADAPTER: {"a1"}}
    steps = {("generate", "gb"): StepState(in_flight=True)}
    plan = plan_next(
        state(
            done, {0: slots}, steps, existing_partitions={Step.GENERATE: ORDER}, genomes_per_run=4
        )
    )
    assert [r.partitions for r in plan.requests] == [("ga",), ("gc",)]
    assert plan.waiting == 1


def test_only_batched_steps_take_several_partitions():
    import pytest

    from coral_dagster.domain.planner import StepRequest

    with pytest.raises(ValueError, match="one partition at a time"):
        StepRequest(Step.ADAPTER, ("a1", "a2"), 1, 0)
    with pytest.raises(ValueError, match="has no one key"):
        _ = StepRequest(Step.SCORE, ("ga", "gb"), 1, 0).partition_key
