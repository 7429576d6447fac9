"""GPU check: a ~1B-parameter Llama (random weights, built from a config: no download) in bf16 on
CUDA through the project's own training and generation code.

1. build the model (hidden 2048, 16 layers, 32 heads / 8 KV heads, MLP 5632, the SmolLM2
   tokenizer's 49,152 tokens: about 1.1B parameters) and save it as a local checkpoint;
2. train 20 LoRA steps and 20 DoRA steps (``model.training.train_adapter``, bf16, batch 4)
   on line-format examples from the bundled corpus recipe (mutants of the train split);
3. decode a mixed-adapter batch of 8 genomes (the 2 trained adapters and 6 more LoRA adapters
   of other ranks initialised by PEFT, each genome with its own knobs and seed) on 4 bundled
   problems (``PatchGenerator.generate_lines``), twice, and check the text is the same alone.

Prints training tokens/s per adapter type, generation tokens/s and peak GPU memory
(``torch.cuda.max_memory_allocated``); ``--json`` prints one JSON object. Meant to finish in
under 8 minutes on one data-centre GPU; refuses to run without CUDA.

    python bench/gpu_check.py [--workdir DIR] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

PROBLEMS = ("bitonic_peak_index", "divisors_list", "roman_to_int", "min_coins")
CONFIG = {
    "vocab_size": 49152,
    "hidden_size": 2048,
    "intermediate_size": 5632,
    "num_hidden_layers": 16,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "max_position_embeddings": 2048,
    "rms_norm_eps": 1e-5,
    "tie_word_embeddings": True,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "pad_token_id": 2,
}


SMOKE = {
    "hidden_size": 64,
    "intermediate_size": 128,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
}


def build_checkpoint(path: Path, smoke: bool) -> int:
    """Save the random ~1B Llama (``smoke``: a 2-layer one, to check this script on a CPU) and
    the SmolLM2 tokenizer at ``path``; its parameter count."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from coral_dagster.model.base_model import load_smollm2_tokenizer

    tokenizer = load_smollm2_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        config = {**CONFIG, **SMOKE} if smoke else CONFIG
        model = LlamaForCausalLM(LlamaConfig(**config)).to(torch.bfloat16)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return sum(p.numel() for p in model.parameters())


def examples():
    """Line-format training examples: mutants of the bundled train programs (no sandbox)."""
    from coral_dagster.benchmark.mutations import sample_mutants
    from coral_dagster.benchmark.problems import load_problem_set
    from coral_dagster.model.prompts import LineTask, line_response_text
    from coral_dagster.model.training import LineTrainingExample
    from coral_dagster.pipeline.repair import answer_text

    problems = load_problem_set("bundled")
    out = []
    for name in problems.names()[:20]:
        for mutant in sample_mutants(problems.problems[name].correct_source, 4, seed=1):
            count = 0 if mutant.mutated is None else 1
            task = LineTask(name, mutant.source, mutant.lineno, count)
            out.append(
                LineTrainingExample(
                    task, line_response_text(task, [answer_text([mutant.original])])
                )
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--smoke-on-cpu", action="store_true", help="a 2-layer model on the CPU: checks the script"
    )
    args = parser.parse_args()

    import torch

    device = "cpu" if args.smoke_on_cpu else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA device visible; this check needs a GPU", file=sys.stderr)
        return 2
    cuda = device == "cuda"
    from peft import get_peft_model

    from coral_dagster.benchmark.problems import load_problem_set
    from coral_dagster.domain.config import TrainingConfig
    from coral_dagster.domain.genome import CheapKnobs, HeavyGenes
    from coral_dagster.model.base_model import load_model_and_tokenizer, resolve_base_model
    from coral_dagster.model.generation import LineRequest, PatchGenerator
    from coral_dagster.model.prompts import LineTask
    from coral_dagster.model.training import lora_config, train_adapter
    from coral_dagster.pipeline.repair import oracle_place

    work = args.workdir or Path(tempfile.mkdtemp(prefix="coral-gpu-"))
    checkpoint = work / "llama-1b-random"
    started = time.perf_counter()
    parameters = build_checkpoint(checkpoint, args.smoke_on_cpu)
    base = resolve_base_model(str(checkpoint), work / "cache")
    report: dict = {
        "parameters": parameters,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    if cuda:
        torch.cuda.reset_peak_memory_stats()

    training = TrainingConfig(max_steps=20, batch_size=4, max_length=640, seed=0)
    train = examples()
    adapters: dict[str, Path] = {}
    for kind in ("lora", "dora"):
        genes = HeavyGenes(16, 32.0, 0.05, ("q_proj", "k_proj", "v_proj", "o_proj"), kind, 1e-3)
        out = work / f"adapter-{kind}"
        result = train_adapter(base, genes, train, training, out, device=device, dtype="bfloat16")
        adapters[kind] = out
        report[f"{kind}_tokens_per_second"] = round(result.tokens_per_second, 1)
        report[f"{kind}_seconds_per_step"] = round(result.seconds / result.steps, 3)
    model, _ = load_model_and_tokenizer(base, device=device, dtype="bfloat16")
    for rank in (4, 8, 12, 16, 24, 32):  # six more adapters, PEFT-initialised (B = 0 in LoRA)
        peft = get_peft_model(
            model,
            lora_config(HeavyGenes(rank, 2.0 * rank, 0.0, ("q_proj", "v_proj"), "lora", 1e-3)),
        )
        out = work / f"adapter-r{rank}"
        peft.save_pretrained(out)
        adapters[f"r{rank}"] = out
        model = peft.unload()
    del model

    generator = PatchGenerator(base, device=device, dtype="bfloat16")
    for name, path in adapters.items():
        generator.load_adapter(name, path)
    problems = load_problem_set("bundled")
    requests = []
    for g, name in enumerate(adapters):
        knobs = CheapKnobs(0.3 + 0.1 * g, 0.95, 40, 1.0, 48, True)
        for p in PROBLEMS:
            place = oracle_place(problems, p)
            task = LineTask(p, problems.problems[p].buggy_source, place.start, place.count)
            requests.append(LineRequest(f"{name}:{p}", name, knobs, task, seed=1000 + g))
    if cuda:
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    outputs = generator.generate_lines(requests, batch_size=32)
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    tokens = sum(o.new_tokens for o in outputs)
    alone = generator.generate_lines(requests[:1], batch_size=1)
    report.update(
        generation_requests=len(requests),
        generation_tokens_per_second=round(tokens / seconds, 1),
        same_text_alone=alone[0].raw_text == outputs[0].raw_text,
        peak_gpu_memory_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
        device=torch.cuda.get_device_name(0) if cuda else "cpu (smoke)",
    )
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:32} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
