"""Orchestration overhead: one generation through Dagster vs the compute time of its assets.

Runs generation 0 (shared stages, population, adapters, generated code, test scores, report,
held-out evaluation) three ways in one process and prints the ratios:

  A. ``coral evolve``'s driver: one in-process Dagster run per planned step (wall time);
  B. the summed compute time of those runs' steps (Dagster's STEP_SUCCESS durations);
  C. the same stages composed in plain Python without Dagster (``stages.run_in_process``),
     on a fresh store, after the model cache is warm (wall time).

    python bench/orchestration.py                      # tiny-random, 4 genomes
    python bench/orchestration.py --model smollm2-135m

A/B is Dagster's per-run overhead on top of the work; A/C compares whole pipelines (C skips
the held-out evaluation and the report, so it is listed without them too).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import yaml
from dagster import DagsterEventType

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "platform"))

from platform_helpers import TINY_CONFIG  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny-random")
    parser.add_argument("--population", type=int, default=4)
    args = parser.parse_args()

    from coral_dagster.benchmark.evaluator import Evaluator
    from coral_dagster.definitions import build_defs
    from coral_dagster.model.base_model import resolve_base_model
    from coral_dagster.model.generation import PatchGenerator
    from coral_dagster.orchestration.driver import run_evolution
    from coral_dagster.orchestration.home import prepare_home
    from coral_dagster.pipeline.in_process import run_in_process
    from coral_dagster.pipeline.inputs import load_inputs
    from coral_dagster.pipeline.store import ArtifactStore

    root = Path(tempfile.mkdtemp(prefix="coral-bench-"))
    os.environ["CORAL_CACHE_DIR"] = str(root / "cache")
    config = {
        **TINY_CONFIG,
        "model": {"base_model": args.model},
        "population": {**TINY_CONFIG["population"], "size": args.population},
        "evolution": {**TINY_CONFIG["evolution"], "generations": 1},
    }
    config_path = root / "bench.yaml"
    config_path.write_text(yaml.safe_dump(config))
    # Warm the converted-model cache so neither side pays the one-time conversion.
    resolve_base_model(args.model, root / "cache" / "models")

    home = prepare_home(config_path, root / "home")
    started = time.perf_counter()
    run_evolution(home, build_defs(home.path), echo=lambda _: None)
    dagster_wall = time.perf_counter() - started

    instance = home.instance()
    by_step: dict[str, float] = {}
    for record in instance.get_run_records():
        step = record.dagster_run.tags.get("coral/step", "?")
        for entry in instance.all_logs(
            record.dagster_run.run_id, of_type=DagsterEventType.STEP_SUCCESS
        ):
            seconds = entry.dagster_event.event_specific_data.duration_ms / 1000
            by_step[step] = by_step.get(step, 0.0) + seconds
    compute = sum(by_step.values())
    runs = len(instance.get_run_records())

    inputs = load_inputs(home.config())
    base = resolve_base_model(args.model, root / "cache" / "models")
    started = time.perf_counter()
    run_in_process(
        inputs,
        ArtifactStore(root / "plain-store"),
        base,
        PatchGenerator(base, device="cpu"),
        Evaluator(inputs.problem_set, inputs.config.sandbox),
        root / "plain-locks",
        root / "plain-adapters",
        generations=1,
    )
    plain_wall = time.perf_counter() - started
    core = sum(v for k, v in by_step.items() if k not in ("heldout", "report"))

    print(f"model {args.model}, {args.population} genomes, 1 generation, {runs} Dagster runs")
    for step, seconds in sorted(by_step.items()):
        print(f"  step {step:12} compute {seconds:8.2f} s")
    print(f"A  Dagster driver wall time          {dagster_wall:8.2f} s")
    print(f"B  summed asset compute time          {compute:8.2f} s")
    print(f"C  plain in-process stages (no report, no held-out) {plain_wall:8.2f} s")
    print(
        f"A/B  orchestration overhead ratio     {dagster_wall / compute:8.2f}x "
        f"({(dagster_wall - compute) / runs:.2f} s per run)"
    )
    print(
        f"B'/C same stages, Dagster steps vs plain ({core:.2f} s vs {plain_wall:.2f} s) "
        f"{core / plain_wall:8.2f}x"
    )


if __name__ == "__main__":
    main()
