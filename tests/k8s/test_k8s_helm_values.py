"""k8s/values.yaml: keys the dagster/dagster chart accepts, and the deployment it describes."""

from __future__ import annotations

import copy
import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from helm_chart_keys import DAGSTER_INSTANCE_KEYS, unknown_keys

K8S_DIR = Path(__file__).resolve().parents[2] / "k8s"


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    data = yaml.safe_load((K8S_DIR / "values.yaml").read_text())
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def instance_yaml() -> dict[str, Any]:
    return yaml.safe_load((K8S_DIR / "dagster.yaml").read_text())


def deployment(values: dict[str, Any]) -> dict[str, Any]:
    (coral,) = values["dagster-user-deployments"]["deployments"]
    return coral


def env_of(values: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in deployment(values)["env"]}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def test_every_key_is_one_the_chart_accepts(values):
    assert unknown_keys(values) == []


@pytest.mark.parametrize(
    ("path", "typo"),
    [
        (
            ("dagster-user-deployments", "deployments", 0, "includeConfigInLaunchedRuns"),
            "includeConfig",
        ),
        (("runLauncher", "config", "k8sRunLauncher", "runK8sConfig"), "runK8SConfig"),
        (("dagsterDaemon", "runMonitoring", "maxRuntimeSeconds"), "maxRunTimeSeconds"),
        (("concurrency", "pools", "defaultLimit"), "default_limit"),
        (("dagsterDaemon",), "dagster-daemon"),
    ],
)
def test_a_misspelled_key_is_reported_with_its_path(values, path, typo):
    data = copy.deepcopy(values)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    parent[typo] = parent.pop(path[-1])
    problems = unknown_keys(data)
    assert len(problems) == 1
    assert typo in problems[0] and "not a key the chart accepts" in problems[0]


def test_code_location_is_the_coral_definitions_module(values):
    coral = deployment(values)
    assert coral["dagsterApiGrpcArgs"] == ["-m", "coral_dagster.definitions"]
    assert importlib.util.find_spec("coral_dagster.definitions") is not None
    assert coral["includeConfigInLaunchedRuns"] == {"enabled": True}
    assert env_of(values)["CORAL_EXECUTION_MODE"] == "k8s"


def test_artifacts_live_on_shared_storage_never_a_pods_disk(values):
    coral = deployment(values)
    env = env_of(values)
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in coral["volumes"]
        if "persistentVolumeClaim" in v
    }
    storage = list(yaml.safe_load_all((K8S_DIR / "storage.yaml").read_text()))
    read_write_many = {
        pvc["metadata"]["name"] for pvc in storage if "ReadWriteMany" in pvc["spec"]["accessModes"]
    }
    for name in ("CORAL_ARTIFACT_ROOT", "CORAL_HOME"):
        path = env[name]
        if re.match(r"^[a-z0-9]+://", path):  # an object store URL
            continue
        mounts = [m for m in coral["volumeMounts"] if path.startswith(m["mountPath"] + "/")]
        assert mounts, f"{name}={path} is on no mounted volume"
        assert claims[mounts[0]["name"]] in read_write_many, f"{name} is not on a RWX claim"


def test_placement_env_is_valid_and_matches_the_gpu_limits(values, placement_from_env):
    env = env_of(values)
    settings = placement_from_env(env)
    concurrency = values["concurrency"]
    assert concurrency["enabled"] is True
    assert concurrency["pools"] == {"defaultLimit": settings.max_gpu_steps, "granularity": "op"}
    assert concurrency["runs"]["tagConcurrencyLimits"] == [
        {"key": "coral/compute", "value": "gpu", "limit": settings.max_gpu_steps}
    ]
    # the launcher's default node selector is the CPU pool the CPU placement uses
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert launcher["runK8sConfig"]["podSpecConfig"]["nodeSelector"] == dict(
        settings.cpu.node_selector
    )
    assert deployment(values)["nodeSelector"] == dict(settings.cpu.node_selector)


def test_postgres_daemon_monitoring_and_retries_are_on(values):
    assert values["postgresql"]["enabled"] is True
    daemon = values["dagsterDaemon"]
    assert daemon["enabled"] is True
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"
    assert daemon["runMonitoring"]["enabled"] is True
    assert daemon["runMonitoring"]["maxRuntimeSeconds"] > 0
    assert daemon["runRetries"]["enabled"] is True
    assert daemon["runRetries"]["maxRetries"] >= 1


def test_helm_values_and_dagster_yaml_describe_the_same_instance(values, instance_yaml):
    """Run monitoring, run retries and concurrency agree between the two deployment paths."""
    daemon = values["dagsterDaemon"]
    for section, keys in DAGSTER_INSTANCE_KEYS.items():
        rendered = {keys[k]: v for k, v in daemon[section].items()}
        assert rendered == instance_yaml[snake(section)], section
    concurrency = values["concurrency"]
    assert {snake(k): v for k, v in concurrency["pools"].items()} == instance_yaml["concurrency"][
        "pools"
    ]
    runs = concurrency["runs"]
    assert {
        "max_concurrent_runs": runs["maxConcurrentRuns"],
        "tag_concurrency_limits": runs["tagConcurrencyLimits"],
    } == instance_yaml["concurrency"]["runs"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]["runK8sConfig"]
    assert (
        launcher["podSpecConfig"]["nodeSelector"]
        == (
            instance_yaml["run_launcher"]["config"]["run_k8s_config"]["pod_spec_config"][
                "node_selector"
            ]
        )
    )
