"""The language-model loss with the output layer over response positions only, against the
full-vocabulary logits over every position it replaced, side by side in one run.

    python bench/response_logits.py                       # SmolLM2-135M on CPU
    python bench/response_logits.py --model tiny-random   # seconds, for a smoke run
    python bench/response_logits.py --format function     # whole-function answers

The batches are the training examples of the first ``--programs`` bundled problems' own bugs
in ``--format`` (``pipeline.adapters.training_examples``, oracle localisation), encoded and
padded as training does, through a LoRA model in train mode. One timed step = forward, the
summed response-token cross-entropy, backward, over every batch; the two ways alternate for
``--steps`` rounds after an untimed round each. ``full``: ``model(...).logits`` at every
position, then the cross-entropy of the response positions (training's code before
``response_cross_entropy``); ``response``: ``model.training.response_cross_entropy``. Prints
seconds per step and the difference of the two losses (nats).
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from bundled_examples import GENES, bench_base_model, bundled_examples
from peft import get_peft_model

from coral_dagster.model.base_model import load_model_and_tokenizer
from coral_dagster.model.training import (
    IGNORE_INDEX,
    collate_batch,
    encode_example,
    lora_config,
    response_cross_entropy,
)


def full_logits_cross_entropy(model, input_ids, attention_mask, labels) -> torch.Tensor:
    """The reference: logits at every position, cross-entropy of the response positions."""
    logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    return F.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]),
        labels[:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--format", choices=("edit", "function"), default="edit")
    parser.add_argument("--programs", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    base = bench_base_model(args.model)
    examples = bundled_examples(args.programs, {"patch": {"format": args.format}})
    model, tokenizer = load_model_and_tokenizer(base, device="cpu", dtype="float32")
    torch.manual_seed(0)
    peft_model = get_peft_model(model, lora_config(GENES))
    peft_model.train()
    encoded = [encode_example(tokenizer, e, 1024) for e in examples]
    device = torch.device("cpu")
    batches = [
        collate_batch(encoded[k : k + args.batch_size], tokenizer.pad_token_id, device)
        for k in range(0, len(encoded), args.batch_size)
    ]
    positions = sum(int(mask.sum()) for _, mask, _ in batches)
    scored = sum(int((labels[:, 1:] != IGNORE_INDEX).sum()) for *_, labels in batches)

    ways = {"full": full_logits_cross_entropy, "response": response_cross_entropy}
    seconds = {name: 0.0 for name in ways}
    losses = {}
    for round_ in range(args.steps + 1):  # round 0 is the untimed warm-up
        for name, loss_fn in ways.items():
            peft_model.zero_grad(set_to_none=True)
            start = time.perf_counter()
            total = 0.0
            for input_ids, attention_mask, labels in batches:
                loss = loss_fn(peft_model, input_ids, attention_mask, labels)
                loss.backward()
                total += float(loss.detach())
            if round_ > 0:
                seconds[name] += time.perf_counter() - start
            losses[name] = total
    print(
        f"model={args.model} format={args.format} threads={torch.get_num_threads()} "
        f"examples={len(examples)} batch_size={args.batch_size} steps={args.steps} "
        f"tokens={positions} scored={scored} ({scored / positions:.1%})"
    )
    for name in ways:
        print(f"{name:<9} {seconds[name] / args.steps:8.2f} s/step  loss {losses[name]:.6f}")
    print(f"full / response seconds per step: {seconds['full'] / seconds['response']:.2f}x")
    print(f"loss difference: {abs(losses['full'] - losses['response']):.2e} nats")


if __name__ == "__main__":
    main()
