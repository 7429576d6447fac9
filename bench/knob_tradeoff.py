"""How the cheap knobs trade fixed bugs against mean test pass rate, on bundled bugs only.

    python bench/knob_tradeoff.py --config configs/quixbugs.yaml [--mutants 1] [--seeds 5]
        [--temperatures 0.5,0.7,1,1.5,2,3,4] [--top-ps 0.9,0.95,1] [--threads 2] [--json]

The bugs are those of ``candidate_scores.py`` (the bundled train and validation programs' own
bugs whose fix is an ``edit`` candidate, and ``--mutants`` injected bugs per program; never
QuixBugs), always with oracle localisation whatever the config says. Every candidate of every
bug is scored once by the base model with the config's
``patch.candidate_score`` and run once in the sandbox (test pass rate ``passed / total``). Then
for each draw mode (the config's ``patch.draws`` and the other one), temperature and top-p
(top-k 0: no cap; sampling on), ``model.scoring.draw_candidates`` draws the config's
``heldout.samples_per_problem`` candidates per bug with ``--seeds`` seeds, and per group of
bugs (``own``, ``injected``, and ``hard``: the injected bugs whose top-ranked candidate under the
base model fails a test) the bench prints

    fixed     = share of bugs with at least one drawn candidate passing every test
    mean pass = mean over bugs of the mean pass rate of its drawn candidates

against the floor (the buggy programs' mean pass rate) and the neutral knobs of the held-out
baselines (T 0.7, top-p 0.9, top-k 50). Nothing trains; the sandbox runs each distinct program
once.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch
import yaml
from bundled_examples import bench_base_model
from candidate_scores import bugs_of

from coral_dagster.benchmark.evaluator import Evaluator
from coral_dagster.domain.config import parse_config
from coral_dagster.domain.genome import CheapKnobs
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.model.scoring import draw_candidates
from coral_dagster.pipeline.heldout import NEUTRAL
from coral_dagster.pipeline.inputs import load_inputs
from coral_dagster.pipeline.repair import candidate_scores


def floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--mutants", type=int, default=1, help="injected bugs per program")
    parser.add_argument("--seed", type=int, default=7, help="seed of the injected bugs")
    parser.add_argument("--seeds", type=int, default=5, help="draw seeds per knob setting")
    parser.add_argument("--temperatures", type=floats, default=floats("0.5,0.7,1,1.5,2,3,4"))
    parser.add_argument("--top-ps", type=floats, default=floats("0.9,0.95,1"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = parse_config(yaml.safe_load(args.config.read_text()))
    benchmark = config.benchmark.model_copy(update={"heldout_dataset": None})
    inputs = load_inputs(config.model_copy(update={"benchmark": benchmark}))
    bugs = bugs_of(inputs, args.mutants, args.seed)
    samples = config.heldout.samples_per_problem
    generator = PatchGenerator(bench_base_model(config.model.base_model), dtype=config.model.dtype)

    scores = [
        candidate_scores(generator, task, config.patch, None, args.batch_size)
        for _, task, _ in bugs
    ]
    evaluator = Evaluator(inputs.problem_set, config.sandbox)
    items = [(task.name, c.program) for _, task, _ in bugs for c in task.candidates]
    items += [(task.name, task.buggy_source) for _, task, _ in bugs]
    unique = list(dict.fromkeys(items))
    print(f"{len(bugs)} bugs, {len(unique)} programs to test", file=sys.stderr, flush=True)
    results = dict(zip(unique, evaluator.evaluate_many(unique), strict=True))

    def pass_rate(name: str, program: str) -> float:
        r = results[(name, program)]
        return r.passed / r.total

    rates = [[pass_rate(t.name, c.program) for c in t.candidates] for _, t, _ in bugs]
    floors = [pass_rate(t.name, t.buggy_source) for _, t, _ in bugs]
    groups = {
        g: [k for k, (group, _, _) in enumerate(bugs) if group == g] for g in ("own", "injected")
    }
    # The injected bugs the base model gets wrong greedily: its top candidate (higher score
    # first, ties by candidate order, as ``draw_candidates`` ranks) fails a test.
    top = [min(range(len(s)), key=lambda i, s=s: (-s[i], i)) for s in scores]
    groups["hard"] = [k for k in groups["injected"] if rates[k][top[k]] < 1.0]

    settings = [("neutral", NEUTRAL["temperature"], NEUTRAL["top_p"], NEUTRAL["top_k"])]
    settings += [(f"T {t:g} top-p {p:g}", t, p, 0) for t in args.temperatures for p in args.top_ps]
    rows = []
    for group, members in groups.items():
        if not members:
            continue
        floor = float(np.mean([floors[k] for k in members]))
        for distinct in (config.patch.draws == "distinct", config.patch.draws != "distinct"):
            for label, t, p, k in settings:
                knobs = CheapKnobs(
                    temperature=t,
                    top_p=p,
                    top_k=k,
                    repetition_penalty=1.0,
                    max_new_tokens=1,
                    do_sample=True,
                )
                fixed, mean = [], []
                for seed in range(args.seeds):
                    drawn = [
                        [
                            rates[b][i]
                            for i in draw_candidates(scores[b], knobs, samples, seed, distinct)
                        ]
                        for b in members
                    ]
                    fixed.append(np.mean([max(d) == 1.0 for d in drawn]))
                    mean.append(np.mean([np.mean(d) for d in drawn]))
                row = {
                    "bugs": group,
                    "n": len(members),
                    "draws": "distinct" if distinct else "independent",
                    "knobs": label,
                    "fixed": float(np.mean(fixed)),
                    "mean_pass": float(np.mean(mean)),
                    "floor": floor,
                }
                rows.append(row)
                if not args.json:
                    print(
                        f"{group:<9} n={len(members):<3} {row['draws']:<11} {label:<18} "
                        f"fixed {row['fixed']:.3f}  mean pass {row['mean_pass']:.3f}  "
                        f"(floor {floor:.3f})",
                        flush=True,
                    )
    if args.json:
        print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
