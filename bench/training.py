"""Adapter training throughput: tokens/s and seconds/step, LoRA and DoRA side by side in one run.

    python bench/training.py                       # SmolLM2-135M on CPU
    python bench/training.py --model tiny-random   # seconds, for a smoke run

Both adapters use the same genes apart from the adapter type, the same examples, the same
``TrainingConfig`` and seed. tokens/s counts non-padding tokens through forward + backward;
seconds/step = training-loop seconds / steps (model loading excluded; an untimed one-step
training first pays the one-off allocation and kernel warm-up). Prints the DoRA/LoRA ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from coral_dagster.domain.config import TrainingConfig
from coral_dagster.domain.genome import HeavyGenes
from coral_dagster.model.base_model import resolve_base_model
from coral_dagster.model.training import TrainingExample, train_adapter

EXAMPLES = [
    TrainingExample(
        "gcd",
        "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)\n",
        "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(b, a % b)\n",
    ),
    TrainingExample(
        "maximum",
        "def maximum(xs):\n    best = xs[0]\n    for x in xs:\n        if x < best:\n"
        "            best = x\n    return best\n",
        "def maximum(xs):\n    best = xs[0]\n    for x in xs:\n        if x > best:\n"
        "            best = x\n    return best\n",
    ),
    TrainingExample(
        "bubble_sort",
        "def bubble_sort(xs):\n    xs = list(xs)\n    for i in range(len(xs)):\n"
        "        for j in range(len(xs) - 1 - i):\n            if xs[j] < xs[j + 1]:\n"
        "                xs[j], xs[j + 1] = xs[j + 1], xs[j]\n    return xs\n",
        "def bubble_sort(xs):\n    xs = list(xs)\n    for i in range(len(xs)):\n"
        "        for j in range(len(xs) - 1 - i):\n            if xs[j] > xs[j + 1]:\n"
        "                xs[j], xs[j + 1] = xs[j + 1], xs[j]\n    return xs\n",
    ),
    TrainingExample(
        "is_even",
        "def is_even(n):\n    return n % 2 == 1\n",
        "def is_even(n):\n    return n % 2 == 0\n",
    ),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    cache_dir = args.cache_dir or Path(
        os.environ.get("CORAL_CACHE_DIR", tempfile.mkdtemp(prefix="coral-bench-"))
    )
    base = resolve_base_model(args.model, cache_dir)
    out_root = Path(tempfile.mkdtemp(prefix="coral-bench-train-"))
    config = TrainingConfig(
        max_steps=args.steps, batch_size=args.batch_size, max_length=args.max_length, seed=0
    )
    warm_up = HeavyGenes(
        rank=args.rank,
        alpha=2 * args.rank,
        dropout=0.05,
        target_modules=("q_proj", "k_proj", "v_proj", "o_proj"),
        adapter_type="lora",
        learning_rate=3e-4,
    )
    one_step = TrainingConfig(max_steps=1, batch_size=args.batch_size, max_length=args.max_length)
    train_adapter(base, warm_up, EXAMPLES, one_step, out_root / "warm-up")  # untimed
    results = {}
    for adapter_type in ("lora", "dora"):
        genes = HeavyGenes(
            rank=args.rank,
            alpha=2 * args.rank,
            dropout=0.05,
            target_modules=("q_proj", "k_proj", "v_proj", "o_proj"),
            adapter_type=adapter_type,
            learning_rate=3e-4,
        )
        start = time.perf_counter()
        report = train_adapter(base, genes, EXAMPLES, config, out_root / adapter_type)
        results[adapter_type] = {
            "tokens_per_second": report.tokens_per_second,
            "seconds_per_step": report.seconds / report.steps,
            "trainable_params": report.trainable_params,
            "losses": report.losses,
            "wall_seconds_incl_load": time.perf_counter() - start,
        }

    print(
        f"model={args.model} threads={torch.get_num_threads()} steps={args.steps} "
        f"batch_size={args.batch_size} max_length={args.max_length} rank={args.rank} "
        f"targets=q,k,v,o"
    )
    print(f"{'adapter':<8}{'trainable':>11}{'tokens/s':>10}{'s/step':>9}{'losses':>8}")
    for adapter_type, row in results.items():
        print(
            f"{adapter_type:<8}{row['trainable_params']:>11}{row['tokens_per_second']:>10.1f}"
            f"{row['seconds_per_step']:>9.2f}  {' '.join(f'{x:.3f}' for x in row['losses'])}"
        )
    ratio = results["dora"]["seconds_per_step"] / results["lora"]["seconds_per_step"]
    print(f"DoRA / LoRA seconds per step: {ratio:.2f}x")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"args": {k: str(v) for k, v in vars(args).items()}, "results": results}
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
