"""Which ``patch.candidate_score`` ranks the fixing ``edit`` candidate first, on bundled bugs only.

    python bench/candidate_scores.py --config configs/quixbugs.yaml [--mutants 3]
        [--adapter NAME=DIR ...] [--threads 2] [--json]

Bugs (never QuixBugs, so the choice does not select on the held-out set), from the train and
validation programs of the config's split:

- ``own``: the bundled bug of each program, when one ``edit`` candidate of its oracle place
  gives back the correct program;
- ``injected``: ``--mutants`` mutants of each correct program (``benchmark.mutations``,
  ``sample_mutants`` seeded by ``--seed``), those whose fix is an ``edit`` candidate.

A candidate *is the fix* when its program parses to the same AST as the correct program (no
tests run: this measures the ranking, not the sandbox). For every bug, the candidates of
``pipeline.repair.repair_tasks``' rule (``edit_candidates`` at the oracle place, at most
``patch.max_candidates``) are scored by ``pipeline.repair.candidate_scores`` with each
``candidate_score`` (``mean``, ``sum``, ``program``) and each model (the base model, then every
``--adapter``), and the fix's rank is read off (ties by candidate order, as ``draw_candidates``
breaks them). Printed per score and model: top-1 and top-5 rates and the mean reciprocal rank.
An adapter trained on the config's corpus has seen the train programs and mutants like these:
its ``injected`` rows measure fit, not transfer; the base model's rows are untrained.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import yaml
from bundled_examples import bench_base_model

from coral_dagster.benchmark.localization import merge_hunks, oracle_hunks
from coral_dagster.benchmark.mutations import sample_mutants
from coral_dagster.domain.config import parse_config
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.pipeline.inputs import load_inputs
from coral_dagster.pipeline.repair import (
    RepairTask,
    candidate_scores,
    edit_candidates,
    fix_rank,
)

SCORES = ("mean", "sum", "program")


def bugs_of(inputs, mutants: int, seed: int) -> list[tuple[str, RepairTask, list[int]]]:
    """(group, task, indices of the fixing candidates) of every bug whose fix is a candidate."""
    problem_set, patch = inputs.problem_set, inputs.config.patch
    out = []
    for name in (*inputs.split.train, *inputs.validation_names):
        correct = problem_set.problems[name].correct_source
        buggy = [("own", problem_set.problems[name].buggy_source)]
        buggy += [("injected", m.source) for m in sample_mutants(correct, mutants, seed)]
        for group, source in buggy:
            place = merge_hunks(source, oracle_hunks(source, correct, name))
            task = RepairTask(
                name, source, place, tuple(edit_candidates(name, source, place, patch))
            )
            fixes = task.fixing_candidates(correct)
            if fixes:
                out.append((group, task, fixes))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--mutants", type=int, default=3, help="injected bugs per program")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--adapter", action="append", default=[], help="NAME=DIR (repeatable)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    config = parse_config(yaml.safe_load(args.config.read_text()))
    # the held-out set plays no part: the bugs come from the bundled train/validation programs
    benchmark = config.benchmark.model_copy(update={"heldout_dataset": None})
    inputs = load_inputs(config.model_copy(update={"benchmark": benchmark}))
    bugs = bugs_of(inputs, args.mutants, args.seed)
    generator = PatchGenerator(bench_base_model(config.model.base_model), dtype=config.model.dtype)
    models: list[tuple[str, str | None]] = [("base model", None)]
    for item in args.adapter:
        name, _, path = item.partition("=")
        if not name or not path:
            parser.error(f"--adapter {item!r}: expected NAME=DIR")
        generator.load_adapter(name, Path(path))
        models.append((name, name))

    rows = []
    for label, adapter in models:
        for score in SCORES:
            patch = config.patch.model_copy(update={"candidate_score": score})
            ranks: dict[str, list[int]] = {"own": [], "injected": []}
            for group, task, fixes in bugs:
                values = candidate_scores(generator, task, patch, adapter, args.batch_size)
                ranks[group].append(fix_rank(values, fixes))
            for group, got in ranks.items():
                if not got:  # e.g. --mutants 0: no injected bug
                    continue
                rows.append(
                    {
                        "model": label,
                        "score": score,
                        "bugs": group,
                        "n": len(got),
                        "top1": sum(r == 1 for r in got) / len(got),
                        "top5": sum(r <= 5 for r in got) / len(got),
                        "mrr": sum(1 / r for r in got) / len(got),
                    }
                )
            if not args.json:
                for row in rows[-2:]:
                    print(
                        f"{row['model']:<14} {row['score']:<8} {row['bugs']:<9} n={row['n']:<4} "
                        f"top-1 {row['top1']:.3f}  top-5 {row['top5']:.3f}  MRR {row['mrr']:.3f}",
                        flush=True,
                    )
    if args.json:
        print(json.dumps({"rows": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
