"""``facts.step_states``: how the instance's runs of one (task, partition) count. Real runs of a
small job on an ephemeral Dagster instance, tagged as the driver tags a step's runs."""

from __future__ import annotations

import errno

import pytest
from dagster import DagsterInstance, Failure, job, op

from coral_dagster.orchestration.facts import step_states
from coral_dagster.orchestration.run_tags import TAG_EXPERIMENT, TAG_PARTITION, TAG_TASK

KEY = ("adapter", "lora-r4-aaaa")


@op(config_schema={"outcome": str})
def step(context) -> None:
    outcome = context.op_config["outcome"]
    if outcome == "disk-full":
        raise OSError(errno.ENOSPC, "No space left on device")
    if outcome == "io-error":
        raise OSError(errno.EIO, "Input/output error")
    if outcome == "own-error":
        raise Failure("the step's own error")


@job
def one_step():
    step()


@pytest.fixture
def instance():
    with DagsterInstance.ephemeral() as instance:
        yield instance


def run(instance: DagsterInstance, outcome: str) -> None:
    one_step.execute_in_process(
        run_config={"ops": {"step": {"config": {"outcome": outcome}}}},
        instance=instance,
        tags={TAG_EXPERIMENT: "e1", TAG_TASK: KEY[0], TAG_PARTITION: KEY[1]},
        raise_on_error=False,
    )


def test_machine_errors_are_interruptions_and_the_steps_own_error_a_failure(instance):
    for outcome in ("disk-full", "io-error", "own-error"):
        run(instance, outcome)
    state = step_states(instance, "e1")[KEY]
    assert (state.finished, state.interruptions, state.failures) == (3, 2, 1)
    assert "Input/output error" in state.last_interruption  # the newest interruption
    assert "the step's own error" in state.last_error


def test_a_success_starts_the_count_afresh(instance):
    """A step made again after it succeeded (a retrained damaged adapter) does not carry the
    interruptions and failures of its runs before that success."""
    for outcome in ("disk-full", "own-error", "disk-full", "ok"):
        run(instance, outcome)
    state = step_states(instance, "e1")[KEY]
    assert (state.finished, state.interruptions, state.failures) == (4, 0, 0)
    run(instance, "disk-full")
    state = step_states(instance, "e1")[KEY]
    assert (state.finished, state.interruptions, state.failures) == (5, 1, 0)
