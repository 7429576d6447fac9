"""Local mode loads nothing Kubernetes-specific; the real asset graph is placed as designed.

Each check runs in a fresh interpreter (the test process itself has imported dagster_k8s).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

PLACEMENT_CHILD = """
import json, sys
from coral_dagster.orchestration import placement
mode = placement.execution_mode()
executor = placement.executor_for_mode(mode)
tags = [placement.op_tags_for("gpu"), placement.op_tags_for("cpu"), placement.run_tags_for("gpu")]
print(json.dumps({
    "mode": str(mode),
    "executor": executor.name,
    "run_tags": tags[2],
    "k8s_modules": sorted(
        m for m in sys.modules if m.split(".")[0] in {"kubernetes", "dagster_k8s"}
    ),
}))
"""

DEFINITIONS_CHILD = """
import json, sys
from coral_dagster.definitions import defs
graph = defs.resolve_asset_graph()
compute = {}
for key in graph.get_all_asset_keys():
    assets_def = graph.get(key).assets_def
    if assets_def.is_executable:
        compute[key.path[-1]] = assets_def.op.tags.get("coral/compute")
print(json.dumps({
    "executor": defs.executor.name,
    "compute": compute,
    "model_cache_dir": defs.resources["model_runtime"].cache_dir,
    "k8s_modules": sorted(
        m for m in sys.modules if m.split(".")[0] in {"kubernetes", "dagster_k8s"}
    ),
}))
"""

# The placement DESIGN.md and issue 6 ask for: GPU pods for training and generation only.
EXPECTED_COMPUTE = {
    "adapters": "gpu",
    "generated_code": "gpu",
    "validation_scores": "cpu",
    "heldout_evaluation": "gpu",
    "population": "cpu",
    "evolution_report": "cpu",
    "problems": "cpu",
    "base_model": "cpu",
}


def run_child(code: str, tmp_path: Path, **env: str) -> dict[str, Any]:
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("CORAL_")}
    child_env.update(CORAL_HOME=str(tmp_path / "home"), **env)
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("mode_env", [{}, {"CORAL_EXECUTION_MODE": "local"}])
def test_placement_in_local_mode_imports_no_kubernetes_client(tmp_path, mode_env):
    report = run_child(PLACEMENT_CHILD, tmp_path, **mode_env)
    assert report["mode"] == "local"
    assert report["executor"] == "in_process"
    assert report["run_tags"] == {"coral/compute": "gpu"}
    assert report["k8s_modules"] == []


def test_placement_in_k8s_mode_loads_the_k8s_executor(tmp_path):
    report = run_child(PLACEMENT_CHILD, tmp_path, CORAL_EXECUTION_MODE="k8s")
    assert report["executor"] == "coral_k8s_job_executor"
    assert "dagster_k8s" in report["k8s_modules"]
    assert set(report["run_tags"]) == {"coral/compute", "dagster-k8s/config", "dagster/max_runtime"}


def test_an_unknown_mode_fails_naming_the_variable(tmp_path):
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("CORAL_")}
    done = subprocess.run(
        [sys.executable, "-c", PLACEMENT_CHILD],
        cwd=REPO,
        env={**child_env, "CORAL_EXECUTION_MODE": "kubernetes"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode != 0
    assert "CORAL_EXECUTION_MODE='kubernetes': Input should be 'local' or 'k8s'" in done.stderr


def test_definitions_in_local_mode_import_no_kubernetes_client_and_place_assets(tmp_path):
    cache = tmp_path / "cache"
    report = run_child(DEFINITIONS_CHILD, tmp_path, CORAL_CACHE_DIR=str(cache))
    assert report["k8s_modules"] == []
    assert report["executor"] == "in_process"
    compute = report["compute"]
    assert {name: compute.get(name) for name in EXPECTED_COMPUTE} == EXPECTED_COMPUTE
    untagged = sorted(name for name, kind in compute.items() if kind not in ("gpu", "cpu"))
    assert untagged == [], f"assets without op_tags_for(...): {untagged}"
    # The image converts the base model into the cache the code location reads (k8s/Dockerfile).
    assert Path(report["model_cache_dir"]) == cache / "models"
    dockerfile = (REPO / "k8s" / "Dockerfile").read_text()
    assert re.search(
        r"resolve_base_model\('smollm2-135m', "
        r"Path\(os\.environ\['CORAL_CACHE_DIR'\]\) / 'models'\)",
        dockerfile,
    )
