"""`evolution_sensor`: each tick asks the planner what is runnable and requests it.

It only reads the instance and the artifact store (never trains or scores: the tick limit is
60 s) and returns one `SensorResult` with the dynamic partitions to add, run requests whose run
keys (`<task>:<partition>:<attempt>`) dedupe across ticks, and a cursor that records the last
plan. A tick that launches nothing says why in its skip reason ("evolution finished after
generation g0001", "evolution stopped: <error>", "generation g0000: waiting for 3 runs in flight
(generate x2, adapter x1)"); every tick's cursor starts with that status (or what it requested),
so the UI's tick table shows it in the Cursor column without a click.
"""

import json
from collections import Counter

from dagster import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from coral_dagster.domain.planner import generation_key, plan_next
from coral_dagster.orchestration.facts import read_planner_input
from coral_dagster.orchestration.jobs import ALL_JOBS
from coral_dagster.orchestration.partitions import partition_set_of
from coral_dagster.orchestration.runs import (
    describe_in_flight,
    describe_runs,
    run_request_for,
    runs_in_flight,
)
from coral_dagster.resources import ArtifactStoreResource, ExperimentResource


class SensorEnv(BaseSettings):
    """``CORAL_SENSOR_INTERVAL_SECONDS``: the least time between two ticks (default 15 s)."""

    model_config = SettingsConfigDict(env_prefix="CORAL_SENSOR_", extra="ignore")

    interval_seconds: int = Field(15, ge=1, le=3600)


@sensor(
    name="evolution_sensor",
    minimum_interval_seconds=SensorEnv().interval_seconds,
    default_status=DefaultSensorStatus.STOPPED,
    jobs=ALL_JOBS,
    description="Plans and launches the next steps of the evolution.",
)
def evolution_sensor(
    context: SensorEvaluationContext,
    experiment: ExperimentResource,
    artifact_store: ArtifactStoreResource,
) -> SensorResult:
    config = experiment.config()
    experiment_id = experiment.experiment_id()
    state = read_planner_input(context.instance, artifact_store.store(), config, experiment_id)
    plan = plan_next(state)
    partitions = [
        AddDynamicPartitionsRequest(
            partitions_def_name=partition_set_of(step), partition_keys=list(keys)
        )
        for step, keys in plan.add_partitions.items()
    ]
    gkey = generation_key(plan.generation)
    if plan.error:
        status = f"evolution stopped: {plan.error}"
    elif plan.finished:
        status = f"evolution finished after generation {gkey}"
    elif plan.requests:
        launched = Counter(r.task for r in plan.requests)
        status = f"generation {gkey}: requested {describe_runs(dict(launched.most_common()))}"
    else:
        counts = runs_in_flight(context.instance, experiment_id)
        waiting = (
            f"waiting for {describe_in_flight(counts)}"
            if counts
            else ("nothing to launch, and no run of this experiment is in flight")
        )
        status = f"generation {gkey}: {waiting}"
    # The cursor is what the tick table shows for each tick: the status first.
    cursor = json.dumps(
        {
            "status": status,
            "generation": plan.generation,
            "waiting": plan.waiting,
            "requested": [r.run_key for r in plan.requests],
        }
    )
    if not plan.requests:
        return SensorResult(
            skip_reason=status, dynamic_partitions_requests=partitions, cursor=cursor
        )
    return SensorResult(
        run_requests=[run_request_for(r, experiment_id) for r in plan.requests],
        dynamic_partitions_requests=partitions,
        cursor=cursor,
    )
