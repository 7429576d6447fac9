"""orchestration.placement: modes, settings from env, and the tags it puts on assets and runs."""

from __future__ import annotations

import json

import pytest
from dagster import RunRequest, asset
from dagster._core.storage.tags import GLOBAL_CONCURRENCY_TAG, MAX_RUNTIME_SECONDS_TAG
from dagster_k8s.job import USER_DEFINED_K8S_CONFIG_KEY, get_user_defined_k8s_config

from coral_dagster.orchestration.placement import (
    COMPUTE_TAG,
    GPU_POOL,
    K8S_CONFIG_TAG,
    MAX_RUNTIME_TAG,
    POOL_TAG,
    ComputeKind,
    ExecutionMode,
    PlacementEnv,
    PlacementError,
    PlacementSettings,
    PodPer,
    execution_mode,
    executor_for_mode,
    op_tags_for,
    run_tags_for,
)

DEFAULTS = PlacementSettings.from_env(PlacementEnv.model_validate({}))  # the defaults only


def test_tag_keys_are_the_ones_dagster_and_dagster_k8s_read():
    assert K8S_CONFIG_TAG == USER_DEFINED_K8S_CONFIG_KEY
    assert POOL_TAG == GLOBAL_CONCURRENCY_TAG
    assert MAX_RUNTIME_TAG == MAX_RUNTIME_SECONDS_TAG


@pytest.mark.parametrize(
    ("env", "mode"),
    [
        ({}, ExecutionMode.LOCAL),
        ({"CORAL_EXECUTION_MODE": "local"}, ExecutionMode.LOCAL),
        ({"CORAL_EXECUTION_MODE": "k8s"}, ExecutionMode.K8S),
        ({"CORAL_EXECUTION_MODE": " K8S "}, ExecutionMode.K8S),
    ],
)
def test_execution_mode_from_env(env, mode, placement_from_env):
    placement_from_env(env)
    assert execution_mode() is mode


@pytest.mark.parametrize("value", ["kubernetes", "", "gpu"])
def test_unknown_execution_mode_names_the_variable(value, monkeypatch):
    monkeypatch.setenv("CORAL_EXECUTION_MODE", value)
    with pytest.raises(PlacementError, match=r"^CORAL_EXECUTION_MODE=.*'local' or 'k8s'"):
        execution_mode()


def test_default_settings():
    assert DEFAULTS.pod_per is PodPer.STEP
    assert DEFAULTS.max_gpu_steps == 1
    assert DEFAULTS.max_runtime_seconds == 21600
    assert dict(DEFAULTS.gpu.node_selector) == {"nvidia.com/gpu.present": "true"}
    assert DEFAULTS.gpu.tolerations == (
        {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
    )
    assert dict(DEFAULTS.gpu.limits) == {"memory": "32Gi", "nvidia.com/gpu": "1"}
    assert dict(DEFAULTS.cpu.node_selector) == {"coral.dev/node-pool": "cpu"}
    assert DEFAULTS.cpu.tolerations == ()
    assert dict(DEFAULTS.cpu.limits) == {"memory": "4Gi"}
    assert dict(DEFAULTS.run_worker.requests) == {"cpu": "500m", "memory": "2Gi"}


def test_settings_from_env_override_every_knob(placement_from_env):
    settings = placement_from_env(
        {
            "CORAL_K8S_POD_PER": "run",
            "CORAL_MAX_GPU_STEPS": "2",
            "CORAL_MAX_RUNTIME_SECONDS": "600",
            "CORAL_GPU_NODE_SELECTOR": '{"pool": "a100"}',
            "CORAL_CPU_NODE_SELECTOR": "{}",
            "CORAL_GPU_TOLERATIONS": '[{"key": "sku", "value": "gpu", "effect": "NoSchedule"}]',
            "CORAL_CPU_TOLERATIONS": '[{"key": "spot", "operator": "Exists"}]',
            "CORAL_GPU_RESOURCE": "amd.com/gpu",
            "CORAL_GPUS_PER_POD": "2",
            "CORAL_GPU_POD_CPU": "8",
            "CORAL_GPU_POD_MEMORY": "64Gi",
            "CORAL_CPU_POD_CPU": "1500m",
            "CORAL_CPU_POD_MEMORY": "3Gi",
            "CORAL_RUN_POD_CPU": "0.5",
            "CORAL_RUN_POD_MEMORY": "1Gi",
        }
    )
    assert settings.pod_per is PodPer.RUN
    assert (settings.max_gpu_steps, settings.max_runtime_seconds) == (2, 600)
    assert dict(settings.gpu.node_selector) == {"pool": "a100"}
    assert dict(settings.gpu.requests) == {"cpu": "8", "memory": "64Gi", "amd.com/gpu": "2"}
    assert dict(settings.gpu.limits) == {"memory": "64Gi", "amd.com/gpu": "2"}
    assert dict(settings.cpu.node_selector) == {}
    assert settings.cpu.tolerations == ({"key": "spot", "operator": "Exists"},)
    assert dict(settings.cpu.requests) == {"cpu": "1500m", "memory": "3Gi"}
    assert dict(settings.run_worker.requests) == {"cpu": "0.5", "memory": "1Gi"}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CORAL_MAX_GPU_STEPS", "0", "greater than 0"),
        ("CORAL_MAX_GPU_STEPS", "two", "valid integer"),
        ("CORAL_MAX_RUNTIME_SECONDS", "-5", "greater than 0"),
        ("CORAL_GPUS_PER_POD", "1.5", "valid integer"),
        ("CORAL_K8S_POD_PER", "node", "'step' or 'run'"),
        ("CORAL_GPU_POD_MEMORY", "32 GB", "should match pattern"),
        ("CORAL_CPU_POD_CPU", "two", "should match pattern"),
        ("CORAL_GPU_NODE_SELECTOR", "pool=gpu", "invalid JSON"),
        ("CORAL_GPU_NODE_SELECTOR", '{"pool": 1}', r"\[pool\]=1: .*valid string"),
        ("CORAL_CPU_NODE_SELECTOR", '["cpu"]', "valid dictionary"),
        ("CORAL_GPU_TOLERATIONS", '{"key": "x"}', "valid list"),
        ("CORAL_GPU_TOLERATIONS", '["x"]', r"\[0\]=.*valid dictionary"),
        ("CORAL_CPU_TOLERATIONS", '[{"keys": "x"}]', r"\[0\]\[keys\]=.*Extra inputs"),
        ("CORAL_GPU_RESOURCE", "nvidia gpu", "should match pattern"),
    ],
)
def test_invalid_setting_fails_naming_the_variable(name, value, message, placement_from_env):
    with pytest.raises(PlacementError, match=rf"^{name}.*{message}"):
        placement_from_env({name: value})


def test_gpu_op_tags():
    tags = op_tags_for("gpu", DEFAULTS)
    assert tags[COMPUTE_TAG] == "gpu"
    assert tags[POOL_TAG] == GPU_POOL
    assert tags[K8S_CONFIG_TAG] == {
        "merge_behavior": "SHALLOW",
        "container_config": {
            "resources": {
                "requests": {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": "1"},
                "limits": {"memory": "32Gi", "nvidia.com/gpu": "1"},
            }
        },
        "pod_spec_config": {
            "node_selector": {"nvidia.com/gpu.present": "true"},
            "tolerations": [
                {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
            ],
        },
    }


def test_cpu_op_tags_have_no_gpu_and_no_pool():
    tags = op_tags_for(ComputeKind.CPU, DEFAULTS)
    assert tags[COMPUTE_TAG] == "cpu"
    assert POOL_TAG not in tags
    assert "gpu" not in json.dumps(tags[K8S_CONFIG_TAG])


@pytest.mark.parametrize("kind", ["tpu", "", None, 1])
def test_unknown_compute_kind_fails(kind):
    with pytest.raises(PlacementError, match="compute kind"):
        op_tags_for(kind, DEFAULTS)


def test_op_tags_survive_dagster_and_parse_as_dagster_k8s_config():
    """Dagster serialises the dict tag; dagster-k8s parses it back with SHALLOW merge."""

    @asset(op_tags=op_tags_for("gpu", DEFAULTS))
    def trained() -> None: ...

    op_tags = trained.op.tags
    assert all(isinstance(v, str) for v in op_tags.values())
    config = get_user_defined_k8s_config(op_tags)
    assert config.merge_behavior.value == "SHALLOW"
    assert config.pod_spec_config["node_selector"] == {"nvidia.com/gpu.present": "true"}
    assert config.container_config["resources"]["limits"]["nvidia.com/gpu"] == "1"


def test_run_tags_local_mode_carry_only_the_compute_kind():
    assert run_tags_for("gpu", "local", DEFAULTS) == {COMPUTE_TAG: "gpu"}
    assert run_tags_for("cpu", ExecutionMode.LOCAL, DEFAULTS) == {COMPUTE_TAG: "cpu"}


def test_run_tags_k8s_pod_per_step_place_a_cpu_orchestrator():
    tags = run_tags_for("gpu", "k8s", DEFAULTS)
    assert tags[COMPUTE_TAG] == "gpu"
    assert tags[MAX_RUNTIME_TAG] == "21600"
    assert json.loads(tags[K8S_CONFIG_TAG]) == DEFAULTS.run_worker.k8s_config()
    RunRequest(run_key="gpu-run", tags=tags)  # run tags must be strings: Dagster accepts them


def test_run_tags_k8s_pod_per_run_place_the_run_like_its_steps(placement_from_env):
    settings = placement_from_env({"CORAL_K8S_POD_PER": "run"})
    for kind in ComputeKind:
        tags = run_tags_for(kind, "k8s", settings)
        assert json.loads(tags[K8S_CONFIG_TAG]) == settings.pod(kind).k8s_config()


def test_run_tags_read_the_mode_from_env(monkeypatch):
    monkeypatch.setenv("CORAL_EXECUTION_MODE", "k8s")
    assert K8S_CONFIG_TAG in run_tags_for("cpu", settings=DEFAULTS)
    monkeypatch.setenv("CORAL_EXECUTION_MODE", "local")
    assert run_tags_for("cpu", settings=DEFAULTS) == {COMPUTE_TAG: "cpu"}


def test_executor_per_mode(placement_from_env):
    assert executor_for_mode("local", DEFAULTS).name == "in_process"
    assert executor_for_mode(ExecutionMode.K8S, DEFAULTS).name == "coral_k8s_job_executor"
    per_run = placement_from_env({"CORAL_K8S_POD_PER": "run"})
    assert executor_for_mode("k8s", per_run).name == "in_process"
    with pytest.raises(PlacementError, match="mode"):
        executor_for_mode("docker", DEFAULTS)
