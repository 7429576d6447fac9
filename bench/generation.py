"""Generation throughput, measured side by side in one run on the same prompts and knobs.

    python bench/generation.py                       # SmolLM2-135M on CPU
    python bench/generation.py --model tiny-random   # seconds, for a smoke run

Three ways to generate the same N patches (greedy, ``--max-new-tokens`` each):

1. one sequence at a time (``batch_size=1``), bare base model;
2. batched (``--batch-size``, default 8), bare base model;
3. batched, rows spread over 4 LoRA adapters in each batch (PEFT mixed-adapter batches).

Prints new tokens per second for each and the ratios to (1). The 4 adapters are trained for one
step each first (real adapters; their weights do not change the cost of a forward pass).
Timings exclude model loading and a warm-up call.
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
from coral_dagster.domain.genome import CheapKnobs, HeavyGenes
from coral_dagster.model.base_model import resolve_base_model
from coral_dagster.model.generation import GenerationOutput, GenerationRequest, PatchGenerator
from coral_dagster.model.training import TrainingExample, train_adapter

PROBLEMS: list[tuple[str, str]] = [
    ("add", "def add(a, b):\n    return a - b\n"),
    ("square", "def square(x):\n    return x * 2\n"),
    ("is_even", "def is_even(n):\n    return n % 2 == 1\n"),
    (
        "factorial",
        "def factorial(n):\n    result = 1\n    for i in range(1, n):\n        result *= i\n"
        "    return result\n",
    ),
    (
        "maximum",
        "def maximum(xs):\n    best = xs[0]\n    for x in xs:\n        if x < best:\n"
        "            best = x\n    return best\n",
    ),
    ("reverse", "def reverse(s):\n    return s[::1]\n"),
    (
        "gcd",
        "def gcd(a, b):\n    if b == 0:\n        return a\n    return gcd(a % b, b)\n",
    ),
    (
        "count_vowels",
        "def count_vowels(text):\n    return sum(1 for c in text if c in 'aeiuo' and False)\n",
    ),
]

TRAIN_PAIRS = [
    TrainingExample("add", PROBLEMS[0][1], "def add(a, b):\n    return a + b\n"),
    TrainingExample("square", PROBLEMS[1][1], "def square(x):\n    return x * x\n"),
]


def _requests(knobs: CheapKnobs, adapters: list[str | None], count: int) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            request_id=f"r{i}",
            adapter_name=adapters[i % len(adapters)],
            knobs=knobs,
            problem_name=PROBLEMS[i % len(PROBLEMS)][0],
            buggy_source=PROBLEMS[i % len(PROBLEMS)][1],
            seed=i,
        )
        for i in range(count)
    ]


def _timed(run) -> tuple[float, list[GenerationOutput]]:
    start = time.perf_counter()
    outputs = run()
    return time.perf_counter() - start, outputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--cache-dir", type=Path, default=None, help="default: a temp dir")
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    cache_dir = args.cache_dir or Path(
        os.environ.get("CORAL_CACHE_DIR", tempfile.mkdtemp(prefix="coral-bench-"))
    )
    base = resolve_base_model(args.model, cache_dir)
    adapter_root = Path(tempfile.mkdtemp(prefix="coral-bench-adapters-"))
    adapter_names = [f"lora{i}" for i in range(4)]
    for i, name in enumerate(adapter_names):
        genes = HeavyGenes(
            rank=8,
            alpha=16,
            dropout=0.0,
            target_modules=("q_proj", "k_proj", "v_proj", "o_proj"),
            adapter_type="lora",
            learning_rate=1e-3,
        )
        config = TrainingConfig(max_steps=1, batch_size=2, max_length=384, seed=i)
        train_adapter(base, genes, TRAIN_PAIRS, config, adapter_root / name)

    generator = PatchGenerator(base)
    for name in adapter_names:
        generator.load_adapter(name, adapter_root / name)
    knobs = CheapKnobs(
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        repetition_penalty=1.0,
        max_new_tokens=args.max_new_tokens,
        do_sample=False,
    )
    bare = _requests(knobs, [None], args.requests)
    mixed = _requests(knobs, list(adapter_names), args.requests)
    generator.generate(bare[:2], batch_size=2)  # warm-up

    runs = {
        "one at a time": lambda: [generator.generate([r], batch_size=1)[0] for r in bare],
        f"batched ({args.batch_size})": lambda: generator.generate(bare, args.batch_size),
        f"mixed 4 adapters ({args.batch_size})": lambda: generator.generate(mixed, args.batch_size),
    }
    results = {}
    for label, run in runs.items():
        seconds, outputs = _timed(run)
        tokens = sum(o.new_tokens for o in outputs)
        results[label] = {
            "seconds": seconds,
            "new_tokens": tokens,
            "tokens_per_second": tokens / seconds,
        }

    reference = results["one at a time"]["tokens_per_second"]
    print(
        f"model={args.model} device={generator.device} threads={torch.get_num_threads()} "
        f"requests={args.requests} max_new_tokens={args.max_new_tokens}"
    )
    print(f"{'mode':<28}{'new tokens':>11}{'seconds':>10}{'tokens/s':>10}{'ratio':>8}")
    for label, row in results.items():
        print(
            f"{label:<28}{row['new_tokens']:>11}{row['seconds']:>10.2f}"
            f"{row['tokens_per_second']:>10.1f}{row['tokens_per_second'] / reference:>7.2f}x"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"args": {k: str(v) for k, v in vars(args).items()}, "results": results}
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
