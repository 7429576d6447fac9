"""``facts.step_states``: how the instance's runs of one (task, partition) count. Real runs of a
small job on an ephemeral Dagster instance, tagged as the driver tags a step's runs; and the
order in which the planner's facts are read."""

from __future__ import annotations

import errno

import pytest
from dagster import DagsterInstance, Failure, job, op
from platform_helpers import write_config

from coral_dagster.orchestration.facts import read_planner_input, step_states
from coral_dagster.orchestration.home import prepare_home
from coral_dagster.orchestration.run_tags import TAG_EXPERIMENT, TAG_PARTITION, TAG_TASK
from coral_dagster.pipeline.inputs import experiment_id

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


def test_the_planner_reads_the_runs_before_the_materializations(tmp_path, monkeypatch):
    """A run that ends between the two reads must be seen in flight or done, never neither
    (else its partitions are planned again): the runs are read first, since a run stores its
    materializations before it ends."""
    home = prepare_home(write_config(tmp_path / "tiny.yaml"), tmp_path / "home")
    instance, config = home.instance(), home.config()
    reads: list[str] = []
    for method, label in (
        ("get_run_records", "runs"),
        ("get_materialized_partitions", "materializations"),
    ):
        real = getattr(instance, method)

        def spy(*args, _real=real, _label=label, **kwargs):
            reads.append(_label)
            return _real(*args, **kwargs)

        monkeypatch.setattr(instance, method, spy)
    read_planner_input(instance, home.store(), config, experiment_id(config))
    assert "materializations" in reads
    assert reads.index("runs") < reads.index("materializations"), reads
