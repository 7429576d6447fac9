"""The code location loads in Dagster's own CLI: validate, and materialize assets by name."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from platform_helpers import write_config

from coral_dagster.orchestration.home import Home
from coral_dagster.pipeline.records import Population, Scores

REPO = Path(__file__).resolve().parents[2]
DAGSTER = [sys.executable, "-m", "dagster"]


def dagster_env(home: Path, model_cache: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CORAL_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "CORAL_CACHE_DIR": str(model_cache),
    }


def test_definitions_validate(tmp_path: Path, model_cache: Path):
    (tmp_path / "dagster").mkdir()
    out = subprocess.run(
        [*DAGSTER, "definitions", "validate", "-w", str(REPO / "workspace.yaml")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dagster_env(tmp_path, model_cache),
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_workspace_and_pyproject_point_at_the_same_module():
    import tomllib

    import yaml

    workspace = yaml.safe_load((REPO / "workspace.yaml").read_text())
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert (
        workspace["load_from"][0]["python_module"]["module_name"]
        == pyproject["tool"]["dagster"]["module_name"]
        == "coral_dagster.definitions"
    )


def test_materialize_unpartitioned_assets(tmp_path: Path, model_cache: Path):
    home = tmp_path / "home"
    (home / "dagster").mkdir(parents=True)
    write_config(home / "experiment.yaml")
    out = subprocess.run(
        [
            *DAGSTER,
            "asset",
            "materialize",
            "-m",
            "coral_dagster.definitions",
            "--select",
            "problems,base_model",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dagster_env(home, model_cache),
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    problems = list((home / "artifacts" / "problems").glob("*.json"))
    assert len(problems) == 1
    split = json.loads(problems[0].read_text())["data"]
    assert not set(split["train"]) & set(split["validation"])


@pytest.mark.parametrize("asset", ["validation_scores"])
def test_materialize_a_genome_partition(
    tmp_path: Path, finished_home: Path, model_cache: Path, asset: str
):
    home = tmp_path / "home"
    shutil.copytree(finished_home, home)
    store = Home(home).store()
    genome = store.read_record(Population, 0).genomes[0]
    before = store.read_record(Scores, genome.genome_key)
    out = subprocess.run(
        [
            *DAGSTER,
            "asset",
            "materialize",
            "-m",
            "coral_dagster.definitions",
            "--select",
            asset,
            "--partition",
            genome.partition_key,
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=dagster_env(home, model_cache),
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    after = store.read_record(Scores, genome.genome_key)
    assert after.objectives.keys() == before.objectives.keys()
    assert after.passed == before.passed
