"""``evolution_sensor`` plans through the same planner and dedupes with run keys."""

from __future__ import annotations

import json
from pathlib import Path

from dagster import AddDynamicPartitionsRequest, DagsterRunStatus, build_sensor_context
from platform_helpers import run_step, write_config

from coral_dagster.definitions import build_defs
from coral_dagster.domain.planner import plan_next
from coral_dagster.orchestration.facts import read_planner_input
from coral_dagster.orchestration.home import Home, prepare_home
from coral_dagster.pipeline.inputs import experiment_id
from coral_dagster.resources import build_resources
from coral_dagster.sensors import evolution_sensor


def tick(home: Home, instance, cursor=None):
    resources = build_resources(home.path, home.config_path)
    context = build_sensor_context(instance=instance, resources=resources, cursor=cursor)
    return evolution_sensor(context)


def run_requested(home: Home, instance, result) -> None:
    """Apply a tick's partition requests and run its requests in-process (as the daemon would)."""
    for req in result.dynamic_partitions_requests:
        assert isinstance(req, AddDynamicPartitionsRequest)
        instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
    config = home.config()
    eid = experiment_id(config)
    plan = plan_next(read_planner_input(instance, home.store(), config, eid))
    by_key = {r.run_key: r for r in plan.requests}
    for rr in result.run_requests:
        assert run_step(home, instance, by_key[rr.run_key], eid)


def test_sensor_drives_the_first_steps(tmp_path: Path, model_cache: Path, monkeypatch):
    monkeypatch.setenv("CORAL_CACHE_DIR", str(model_cache))
    home = prepare_home(write_config(tmp_path / "tiny.yaml"), tmp_path / "home")
    instance = home.instance()

    first = tick(home, instance)
    assert [r.run_key for r in first.run_requests] == ["shared:__shared__:1"]
    assert first.run_requests[0].job_name == "coral_shared"
    again = tick(home, instance)  # nothing launched in between: identical run keys dedupe
    assert [r.run_key for r in again.run_requests] == ["shared:__shared__:1"]
    run_requested(home, instance, first)

    second = tick(home, instance, cursor=first.cursor)
    assert [r.run_key for r in second.run_requests] == ["population:g0000:1"]
    assert second.run_requests[0].partition_key == "g0000"
    assert [
        (p.partitions_def_name, list(p.partition_keys)) for p in second.dynamic_partitions_requests
    ] == [("generations", ["g0000"])]
    run_requested(home, instance, second)

    third = tick(home, instance, cursor=second.cursor)
    steps = {r.tags["coral/step"] for r in third.run_requests}
    assert steps == {"adapter"}
    added = {
        p.partitions_def_name: list(p.partition_keys) for p in third.dynamic_partitions_requests
    }
    assert len(added["genome_keys"]) == 4
    assert {r.partition_key for r in third.run_requests} == set(added["adapter_keys"])
    for r in third.run_requests:
        assert r.job_name == "coral_adapters"
        assert r.tags["coral/compute"] == "gpu"
        assert [k.to_user_string() for k in r.asset_selection] == ["adapters"]
    assert json.loads(third.cursor)["generation"] == 0
    # the cursor (shown on the sensor's page) opens with what the tick did
    assert json.loads(third.cursor)["status"] == "generation g0000: requested 3 runs (adapter x3)"

    # The three adapter runs are created and none has started yet: the tick launches nothing
    # and says what it waits for.
    for rr in third.run_requests:
        instance.create_run_for_job(
            build_defs(home.path).resolve_job_def(rr.job_name),
            asset_selection=set(rr.asset_selection),
            tags=rr.tags,
            status=DagsterRunStatus.NOT_STARTED,
        )
    waiting = tick(home, instance, cursor=third.cursor)
    assert waiting.run_requests == []
    assert waiting.skip_reason is not None
    assert waiting.skip_reason.skip_message == (
        "generation g0000: waiting for 3 runs in flight (adapter x3)"
    )
    assert json.loads(waiting.cursor)["status"] == waiting.skip_reason.skip_message


def test_sensor_skips_when_the_evolution_finished(finished_home: Path):
    home = Home(finished_home)
    result = tick(home, home.instance())
    assert result.run_requests == []
    assert result.skip_reason.skip_message == "evolution finished after generation g0001"
