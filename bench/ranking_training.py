"""What the ranking loss costs in training: seconds per step with it off and on, side by side.

    python bench/ranking_training.py                       # SmolLM2-135M on CPU
    python bench/ranking_training.py --model tiny-random   # seconds, for a smoke run
    python bench/ranking_training.py --score program       # whole programs ranked

The examples are the ``edit``-format training examples of the first ``--programs`` bundled
problems' own bugs (``pipeline.adapters.training_examples``, oracle localisation) with
``--negatives`` wrong edits each; the same genes, ``TrainingConfig`` and seed for every row:
ranking weight 0 (the negatives are dropped: the plain language-model loss), and weight 1
with ``--score`` (``patch.candidate_score``: ``mean`` answer lines, ``program`` whole programs).
seconds/step = training-loop seconds / steps (model loading excluded; an untimed one-step
training first pays the one-off allocation and kernel warm-up). Prints the on/off ratio.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from bundled_examples import GENES, bench_base_model, bundled_examples

from coral_dagster.domain.config import TrainingConfig
from coral_dagster.model.training import train_adapter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--programs", type=int, default=8)
    parser.add_argument("--negatives", type=int, default=8)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--score", choices=("mean", "sum", "program"), default="mean")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    base = bench_base_model(args.model)
    training = {"ranking_weight": 1.0, "ranking_negatives": args.negatives}
    patch = {"format": "edit", "candidate_score": args.score}
    examples = bundled_examples(args.programs, {"patch": patch, "training": training})
    out = Path(tempfile.mkdtemp(prefix="coral-bench-ranking-"))

    warm_up = TrainingConfig(max_steps=1, batch_size=args.batch_size, max_length=1024)
    train_adapter(  # untimed
        base, GENES, examples, warm_up, out / "warm-up", ranking_score=args.score
    )
    rows = {}
    for weight in (0.0, 1.0):
        config = TrainingConfig(
            max_steps=args.steps, batch_size=args.batch_size, max_length=1024, ranking_weight=weight
        )
        report = train_adapter(
            base, GENES, examples, config, out / f"w{weight}", ranking_score=args.score
        )
        rows[weight] = report.seconds / report.steps
    print(
        f"model={args.model} threads={torch.get_num_threads()} examples={len(examples)} "
        f"negatives={args.negatives} steps={args.steps} batch_size={args.batch_size} "
        f"score={args.score}"
    )
    for weight, seconds in rows.items():
        print(f"ranking_weight {weight:<4} {seconds:8.2f} s/step")
    print(f"ranking on / off seconds per step: {rows[1.0] / rows[0.0]:.2f}x")


if __name__ == "__main__":
    main()
