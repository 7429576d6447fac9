"""k8s/dagster.yaml against Dagster 1.13's own instance schema (and its configurable classes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config, storage_config_schema
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._serdes.config_class import ConfigurableClassData, class_from_code_pointer
from dagster_k8s import K8sRunLauncher

K8S_DIR = Path(__file__).resolve().parents[2] / "k8s"


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def validated(directory: Path) -> dict[str, Any]:
    config, custom_instance_class = dagster_instance_config(str(directory), "dagster.yaml")
    assert custom_instance_class is None
    return dict(config)


def write_copy(tmp_path: Path, data: dict[str, Any]) -> Path:
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(data))
    return tmp_path


def test_instance_config_validates_with_the_real_schema():
    config = validated(K8S_DIR)
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_monitoring"]["max_runtime_seconds"] > 0
    assert config["run_retries"]["enabled"] is True
    assert config["concurrency"]["runs"]["tag_concurrency_limits"] == [
        {"key": "coral/compute", "value": "gpu", "limit": 1}
    ]


def test_configurable_classes_exist_and_their_configs_validate():
    config = validated(K8S_DIR)
    launcher = config["run_launcher"]
    assert class_from_code_pointer(launcher["module"], launcher["class"]) is K8sRunLauncher
    processed = process_config(K8sRunLauncher.config_type(), launcher["config"])
    assert processed.success, processed.errors
    assert processed.value["service_account_name"] == "coral-dagster"

    coordinator = config["run_coordinator"]
    assert class_from_code_pointer(coordinator["module"], coordinator["class"]) is (
        QueuedRunCoordinator
    )
    processed = process_config(QueuedRunCoordinator.config_type(), coordinator["config"])
    assert processed.success, processed.errors

    logs = config["compute_logs"]
    manager = ConfigurableClassData(logs["module"], logs["class"], "{}").rehydrate(object)
    assert type(manager).__name__ == "NoOpComputeLogManager"


def test_postgres_storage_resolves_from_env(monkeypatch):
    env = {
        "DAGSTER_PG_HOST": "pg.coral.svc",
        "DAGSTER_PG_USERNAME": "dagster",
        "DAGSTER_PG_PASSWORD": "secret",
        "DAGSTER_PG_DB": "dagster",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    storage = validated(K8S_DIR)["storage"]
    processed = process_config(storage_config_schema().config_type, storage)
    assert processed.success, processed.errors
    db = processed.value["postgres"]["postgres_db"]
    assert (db["hostname"], db["username"], db["password"], db["db_name"], db["port"]) == (
        "pg.coral.svc",
        "dagster",
        "secret",
        "dagster",
        5432,
    )


@pytest.mark.parametrize(
    ("path", "typo"),
    [
        (("run_monitoring",), "run_monitorng"),
        (("run_monitoring", "max_runtime_seconds"), "max_runtime_secs"),
        (("concurrency", "pools", "default_limit"), "defaultLimit"),
        (("run_retries", "retry_on_asset_or_op_failure"), "retry_on_op_failure"),
    ],
)
def test_a_misspelled_key_fails(tmp_path: Path, path: tuple[str, ...], typo: str):
    data = load(K8S_DIR / "dagster.yaml")
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    parent[typo] = parent.pop(path[-1])
    with pytest.raises(DagsterInvalidConfigError, match=typo):
        validated(write_copy(tmp_path, data))


def test_a_misspelled_run_launcher_key_fails():
    launcher = load(K8S_DIR / "dagster.yaml")["run_launcher"]["config"]
    launcher["service_acount_name"] = launcher.pop("service_account_name")
    processed = process_config(K8sRunLauncher.config_type(), launcher)
    assert not processed.success
    assert "service_acount_name" in str(processed.errors)


def test_run_queue_config_conflicting_with_concurrency_runs_fails(tmp_path: Path):
    """Dagster refuses run-queue limits in two places; the file sets them only under concurrency."""
    data = load(K8S_DIR / "dagster.yaml")
    data["run_coordinator"]["config"]["max_concurrent_runs"] = 4
    with pytest.raises(DagsterInvalidConfigError, match="max_concurrent_runs"):
        validated(write_copy(tmp_path, data))
