"""Throughput of one generation's patch generation: one run per genome vs batched runs.

One generation of 8 genomes on SmolLM2 (4 validation problems each), three ways, measured in
one run on the same trained adapters (each way starts from its own copy of the same home):

- ``process_per_genome``: a run per genome, each in a fresh process, as the daemon's run
  launcher starts runs (interpreter start, imports and a base-model load per run);
- ``in_process_per_genome``: a run per genome in one process, as ``coral evolve`` ran them
  before batching (the model stays loaded; each genome's 4 prompts decode on their own);
- ``batched``: runs of ``--per-run`` genomes, each in a fresh process (as the daemon launches
  them): the model loads once per batch and all the batch's prompts decode together in
  mixed-adapter batches.

Prints wall seconds, base-model loads, generated tokens/s and the ratios; ``--json`` prints
``{"modes": [{"mode", "seconds", "model_loads", "tokens_per_second"}, ...]}`` instead. The
generated text must be the same in every mode (checked).

    python bench/throughput.py [--model smollm2-135m] [--genomes 8] [--per-run 8] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

CONFIG = {
    "name": "throughput",
    "seed": 3,
    "population": {"size": 8, "grid_size": 6, "min_steps": 4, "max_steps": 10},
    "genes": {
        "ranks": [4, 8],
        "alphas": [8.0, 16.0],
        "dropouts": [0.0],
        "target_modules": [["q_proj", "v_proj"]],
        "adapter_types": ["lora"],
        "learning_rates": [0.001],
    },
    "knobs": {"max_new_tokens": {"low": 48, "high": 64}},
    "evolution": {"generations": 1, "elite_count": 1},
    "benchmark": {"max_validation_problems": 4, "max_test_problems": 1},
    "training": {"max_steps": 1, "batch_size": 1, "max_length": 384},
    "generation": {"batch_size": 32},
    "patch": {"format": "function"},  # decoding (edit patches score, they do not decode)
    "corpus": {"mutants_per_program": 1},  # training is not measured here
}

RUN_STEP = """
import json, sys
from pathlib import Path
from coral_dagster.definitions import build_defs
from coral_dagster.domain.planner import Step, StepRequest
from coral_dagster.orchestration.driver import execute_step
from coral_dagster.orchestration.home import Home
from coral_dagster.pipeline.inputs import experiment_id
home = Home(Path(sys.argv[1]))
partitions = tuple(json.loads(sys.argv[2]))
request = StepRequest(Step.GENERATE, partitions, 1, 0, "bench")
ok = execute_step(build_defs(home.path), home.instance(), request, experiment_id(home.config()))
sys.exit(0 if ok else 1)
"""


def prepare(root: Path, model: str, genomes: int) -> tuple[Path, list[str]]:
    """A home whose generation 0 has its adapters trained and nothing generated yet."""
    from coral_dagster.definitions import build_defs
    from coral_dagster.domain.planner import Step
    from coral_dagster.orchestration.driver import execute_step, plan_once
    from coral_dagster.orchestration.home import prepare_home
    from coral_dagster.pipeline.inputs import experiment_id
    from coral_dagster.pipeline.population import load_population

    config = {**CONFIG, "model": {"base_model": model}}
    config["population"] = {**CONFIG["population"], "size": genomes}
    path = root / "bench.yaml"
    path.write_text(yaml.safe_dump(config))
    home = prepare_home(path, root / "prepared")
    defs, instance, cfg = build_defs(home.path), home.instance(), home.config()
    eid = experiment_id(cfg)
    while True:
        plan = plan_once(home, instance, cfg, eid)
        if any(r.step is Step.GENERATE for r in plan.requests):
            break
        for request in plan.requests:
            if not execute_step(defs, instance, request, eid):
                raise SystemExit(f"preparing the bench home failed at {request.run_key}")
    return home.path, [g.partition_key for g in load_population(home.store(), 0).genomes]


def copy_home(prepared: Path, root: Path, mode: str) -> Path:
    target = root / mode
    shutil.copytree(prepared, target)
    # The copied instance must point at the copy: dagster.yaml holds no paths, DAGSTER_HOME does.
    return target


def texts(home: Path, partitions: list[str]) -> tuple[list[list[str]], int]:
    from coral_dagster.domain.partition_keys import content_key
    from coral_dagster.orchestration.home import Home
    from coral_dagster.pipeline.records import GeneratedCode

    store = Home(home).store()
    records = [store.read_record(GeneratedCode, content_key(p)) for p in partitions]
    tokens = sum(o.new_tokens for r in records for o in r.outputs)
    return [[o.raw_text for o in r.outputs] for r in records], tokens


def in_subprocess(home: Path, partitions: list[str], env: dict[str, str]) -> None:
    env = {**env, "CORAL_HOME": str(home), "DAGSTER_HOME": str(home / "dagster")}
    done = subprocess.run(
        [sys.executable, "-c", RUN_STEP, str(home), json.dumps(partitions)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"run of {len(partitions)} genome(s) failed:\n{done.stderr[-3000:]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--genomes", type=int, default=8)
    parser.add_argument("--per-run", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from coral_dagster.definitions import build_defs
    from coral_dagster.domain.planner import Step, StepRequest
    from coral_dagster.orchestration.driver import execute_step
    from coral_dagster.orchestration.home import Home
    from coral_dagster.pipeline.inputs import experiment_id
    from coral_dagster.resources.model_runtime import model_loads

    root = Path(tempfile.mkdtemp(prefix="coral-throughput-"))
    os.environ.setdefault("CORAL_CACHE_DIR", str(root / "cache"))
    env = dict(os.environ)
    prepared, partitions = prepare(root, args.model, args.genomes)
    results = {}

    home = copy_home(prepared, root, "process_per_genome")
    started = time.perf_counter()
    for partition in partitions:
        in_subprocess(home, [partition], env)
    results["process_per_genome"] = (time.perf_counter() - started, len(partitions), home)

    home = copy_home(prepared, root, "in_process_per_genome")
    os.environ.update(CORAL_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    coral_home = Home(home)
    defs, instance = build_defs(home), coral_home.instance()
    eid = experiment_id(coral_home.config())
    loads_before = model_loads()
    started = time.perf_counter()
    for partition in partitions:
        request = StepRequest(Step.GENERATE, (partition,), 1, 0, "bench")
        if not execute_step(defs, instance, request, eid):
            raise SystemExit(f"in-process run of {partition} failed")
    results["in_process_per_genome"] = (
        time.perf_counter() - started,
        model_loads() - loads_before,
        home,
    )

    home = copy_home(prepared, root, "batched")
    batches = [partitions[i : i + args.per_run] for i in range(0, len(partitions), args.per_run)]
    started = time.perf_counter()
    for batch in batches:
        in_subprocess(home, batch, env)
    results["batched"] = (time.perf_counter() - started, len(batches), home)

    reference = None
    modes = []
    for mode, (seconds, loads, mode_home) in results.items():
        generated, tokens = texts(mode_home, partitions)
        if reference is None:
            reference = generated
        elif generated != reference:
            raise SystemExit(f"{mode} generated other text than process_per_genome")
        modes.append(
            {
                "mode": mode,
                "seconds": round(seconds, 2),
                "model_loads": loads,
                "tokens_per_second": round(tokens / seconds, 2),
            }
        )
    shutil.rmtree(root, ignore_errors=True)
    if args.json:
        print(json.dumps({"modes": modes}))
        return
    by_mode = {m["mode"]: m for m in modes}
    print(f"{len(partitions)} genomes x 4 problems, {args.model}, {args.per_run} genomes per run")
    print(f"{'mode':24} {'seconds':>8} {'loads':>6} {'tokens/s':>9}")
    for m in modes:
        print(
            f"{m['mode']:24} {m['seconds']:>8.1f} {m['model_loads']:>6} "
            f"{m['tokens_per_second']:>9.1f}"
        )
    batched = by_mode["batched"]["seconds"]
    print(
        f"batched is {by_mode['process_per_genome']['seconds'] / batched:.2f}x faster than a "
        f"process per genome and {by_mode['in_process_per_genome']['seconds'] / batched:.2f}x "
        "faster than one in-process run per genome"
    )


if __name__ == "__main__":
    main()
