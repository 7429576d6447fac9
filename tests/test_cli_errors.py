"""Issue 10, item 8: a user's mistake in a config is one line on stderr naming the culprit, exit
status 1, never a traceback, from the real `coral` CLI in a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_assertions import one_line_error

REPO = Path(__file__).resolve().parents[1]


def coral(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    exe = shutil.which("coral")
    assert exe is not None, "the `coral` console script is not installed (pip install -e .)"
    return subprocess.run(
        [exe, *args], cwd=cwd, env=dict(os.environ), capture_output=True, text=True, timeout=300
    )


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_a_config_that_is_not_utf8_is_one_line_for_every_command(tmp_path: Path):
    config = write(tmp_path / "latin1.yaml", b'name: "caf\xe9"\n')
    for args in (
        ("validate-config", str(config)),
        ("population", "--config", str(config)),
        ("evolve", "--config", str(config), "--home", str(tmp_path / "home")),
    ):
        one_line_error(coral(*args), str(config), "not UTF-8 text")
    assert not (tmp_path / "home").exists()  # refused before the home was made


@pytest.mark.parametrize(
    ("yaml_text", "culprit"),
    [
        (
            "sandbox:\n  timeout_seconds: .inf\n",
            "sandbox.timeout_seconds: Input should be a finite",
        ),
        ("knobs:\n  temperature: {low: 0.2, high: .inf}\n", "knobs.temperature.high: Input should"),
        ("knobs:\n  top_p: {low: .nan, high: 1.0}\n", "knobs.top_p.low: Input should be a finite"),
        ("knobs:\n  max_new_tokens: {low: 1, high: 1.0e12}\n", "knobs.max_new_tokens: Value error"),
        ("knobs:\n  temperature: {low: 0, high: 1}\n", "must lie within [0.01, 10], got [0, 1]"),
        ("training:\n  epochs: .inf\n", "training.epochs: Input should be a finite number"),
        ("evolution:\n  min_delta: .nan\n", "evolution.min_delta: Input should be a finite"),
        ("evolution:\n  crossover_rate: .inf\n", "evolution.crossover_rate: Input should be"),
        ("evolution:\n  gate: {max: .nan}\n", "evolution.gate.max: Input should be a finite"),
        ("genes:\n  learning_rates: [.inf]\n", "genes.learning_rates.0: Input should be a finite"),
        ("knobs:\n  sample_threshold: .nan\n", "knobs.sample_threshold: Input should be a finite"),
        ("population:\n  size: 10000000\n", "population.size: Input should be less than or equal"),
        ("evolution:\n  generations: 1000000\n", "evolution.generations: Input should be less"),
        ("heldout:\n  samples_per_problem: 1000000000\n", "heldout.samples_per_problem: Input"),
        ("training:\n  max_length: 1000000000\n", "training.max_length: Input should be less"),
        ("seed: 100000000000000000000\n", "seed: Input should be less than or equal to 4294967295"),
    ],
)
def test_non_finite_and_unbounded_numbers_are_refused_with_the_limit_named(
    tmp_path: Path, yaml_text: str, culprit: str
):
    config = write(tmp_path / "bad.yaml", yaml_text)
    line = one_line_error(coral("validate-config", str(config)), culprit)
    assert line.startswith(f"{config}: ")


def test_a_population_of_ten_million_is_refused_by_every_command(tmp_path: Path):
    config = write(tmp_path / "huge.yaml", "population:\n  size: 10000000\n")
    needle = "population.size: Input should be less than or equal to 1000"
    one_line_error(coral("population", "--config", str(config)), needle)
    one_line_error(
        coral("evolve", "--config", str(config), "--home", str(tmp_path / "home")), needle
    )


@pytest.mark.parametrize(
    ("section", "culprit"),
    [
        ("benchmark:\n  dataset: /nonexistent/dataset\n", "benchmark: dataset /nonexist"),
        ("benchmark:\n  split: {train: [a], validation: [b], test: [c]}\n", "split.train: unknown"),
        ("model:\n  base_model: /nonexistent/model\n", "model.base_model: base model"),
    ],
)
def test_population_with_a_bad_dataset_split_or_model_names_it(
    tmp_path: Path, section: str, culprit: str
):
    config = write(tmp_path / "bad.yaml", section)
    result = coral("population", "--config", str(config))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert all(line.startswith(f"{config}: ") for line in lines), lines
    assert culprit in lines[0], lines[0]


def test_evolve_with_an_invalid_config_prints_one_line(tmp_path: Path):
    config = write(tmp_path / "bad.yaml", "population:\n  sise: 4\nweights:\n  bugfix: 0.9\n")
    line = one_line_error(
        coral("evolve", "--config", str(config), "--home", str(tmp_path / "home")),
        f"invalid config {config}: ",
        "population.sise: unknown key",
        "weights must sum to 1",
    )
    assert line.startswith("Error: ")


def test_evaluate_with_an_invalid_config_prints_one_line(tmp_path: Path):
    config = write(tmp_path / "bad.yaml", "sandbox:\n  timeout_seconds: .inf\n")
    program = write(tmp_path / "p.py", "def f():\n    return 1\n")
    one_line_error(
        coral("evaluate", "--config", str(config), "--problem", "x", "--program", str(program)),
        f"invalid config {config}: sandbox.timeout_seconds: Input should be a finite number",
    )


def test_population_with_a_heldout_set_that_overlaps_training_names_it(tmp_path: Path):
    from coral_dagster.benchmark.problems import BUNDLED_DATASET

    config = write(tmp_path / "overlap.yaml", f"benchmark:\n  heldout_dataset: {BUNDLED_DATASET}\n")
    result = coral("population", "--config", str(config))
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"{config}: benchmark: held-out dataset {BUNDLED_DATASET} shares")
