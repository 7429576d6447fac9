"""The ``coral validate-config`` and ``coral population`` command-line contract."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from coral_dagster.domain.config import load_config
from coral_dagster.domain.mappings import derive_knobs
from coral_dagster.domain.population import initial_population

REPO = Path(__file__).resolve().parents[1]
QUICK = REPO / "configs" / "quick.yaml"


def start_coral(*args: str, hash_seed: str = "0") -> subprocess.Popen:
    exe = shutil.which("coral")
    assert exe is not None, "the `coral` console script is not installed (pip install -e .)"
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    return subprocess.Popen(
        [exe, *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    stdout, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def coral(*args: str, hash_seed: str = "0") -> subprocess.CompletedProcess:
    return finish(start_coral(*args, hash_seed=hash_seed))


@pytest.mark.parametrize("name", ["quick.yaml", "default.yaml"])
def test_validate_config_accepts_shipped_configs(name):
    result = coral("validate-config", f"configs/{name}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"configs/{name}: ok")


def test_validate_config_prints_one_line_per_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "population:\n  sise: 4\n"
        "evolution:\n  crossover_rate: -0.5\n"
        "weights:\n  bugfix: 0.9\n"
        "genes:\n  ranks: []\n"
    )
    result = coral("validate-config", str(bad))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 4, result.stderr
    assert all(line.startswith(f"{bad}: ") for line in lines)
    text = "\n".join(lines)
    assert "population.sise: unknown key" in text
    assert "evolution.crossover_rate: Input should be greater than or equal to 0" in text
    assert "weights: Value error, weights must sum to 1, got 1.3" in text
    assert "genes.ranks: List should have at least 1 item" in text


def test_validate_config_missing_file(tmp_path):
    result = coral("validate-config", str(tmp_path / "nope.yaml"))
    assert result.returncode != 0
    assert "no such file" in result.stderr


def test_population_json_is_generation_zero_and_byte_identical_across_processes():
    args = ("population", "--config", "configs/quick.yaml", "--json")
    running = [start_coral(*args, hash_seed="1"), start_coral(*args, hash_seed="777")]
    first, second = (finish(p) for p in running)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout == second.stdout
    records = json.loads(first.stdout)
    config = load_config(QUICK)
    genomes = initial_population(config)
    assert len(records) == config.population.size
    assert len({r["genome_key"] for r in records}) == len(records)
    for record, genome in zip(records, genomes, strict=True):
        assert set(record) == {"genome_key", "adapter_key", "seed", "genes", "knobs"}
        assert record["seed"] == genome.seed.to_dict()
        assert record["genes"] == genome.genes.to_dict()
        assert record["knobs"] == derive_knobs(genome.seed, config.knobs).to_dict()
        for key in ("genome_key", "adapter_key"):
            assert len(record[key]) == 64 and int(record[key], 16) >= 0
    by_genes: dict[str, str] = {}
    for record in records:  # equal heavy genes <=> equal adapter key
        genes = json.dumps(record["genes"], sort_keys=True)
        assert by_genes.setdefault(genes, record["adapter_key"]) == record["adapter_key"]
    assert len(set(by_genes.values())) == len(by_genes)


def test_population_rejects_a_bad_config(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("population:\n  size: 1\n")
    result = coral("population", "--config", str(bad), "--json")
    assert result.returncode != 0
    assert result.stdout == ""
    assert f"{bad}: population.size: Input should be greater than or equal to 2" in result.stderr
