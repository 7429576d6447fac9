"""End to end on the embedded SmolLM2-135M (CPU): convert once, train, save, reload, generate."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from model_helpers import EVAL_PROBLEMS, TRAINING_PAIRS
from peft import get_peft_model_state_dict
from safetensors.torch import load_file

from coral_dagster.domain.config import TrainingConfig
from coral_dagster.domain.genome import CheapKnobs, HeavyGenes
from coral_dagster.model.base_model import base_model_fingerprint, resolve_base_model
from coral_dagster.model.extraction import defines_function
from coral_dagster.model.generation import GenerationRequest, PatchGenerator
from coral_dagster.model.training import TrainingExample, train_adapter

GREEDY_64 = CheapKnobs(
    temperature=1.0,
    top_p=1.0,
    top_k=0,
    repetition_penalty=1.0,
    max_new_tokens=64,
    do_sample=False,
)


@pytest.mark.slow
def test_smollm2_adapter_trains_reloads_and_generates_patches(
    model_cache_dir: Path, tmp_path: Path
) -> None:
    base = resolve_base_model("smollm2-135m", model_cache_dir)
    assert base.model_id == base_model_fingerprint("smollm2-135m")
    assert (base.path / "model.safetensors").stat().st_size > 400e6  # dequantised float32

    genes = HeavyGenes(
        rank=4,
        alpha=8,
        dropout=0.05,
        target_modules=("q_proj", "v_proj"),
        adapter_type="lora",
        learning_rate=3e-4,
    )
    examples = [TrainingExample(*pair) for pair in TRAINING_PAIRS]
    config = TrainingConfig(max_steps=3, batch_size=2, max_length=384, seed=0)
    report = train_adapter(base, genes, examples, config, tmp_path / "adapter", device="cpu")
    assert report.steps == 3 and len(report.losses) == 3
    assert all(math.isfinite(loss) and loss > 0 for loss in report.losses)
    # rank 4 on q_proj (576 -> 576) and v_proj (576 -> 192) in 30 layers
    assert report.trainable_params == 30 * ((4 * 576 + 576 * 4) + (4 * 576 + 192 * 4))

    generator = PatchGenerator(base, device="cpu")
    generator.load_adapter("g0", tmp_path / "adapter")
    saved = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    loaded = get_peft_model_state_dict(generator.model, adapter_name="g0")
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k], loaded[k].cpu()) for k in saved)

    requests = [
        GenerationRequest(f"g0/{name}", "g0", GREEDY_64, name, source, seed=i)
        for i, (name, source) in enumerate(EVAL_PROBLEMS)
    ]
    outputs = generator.generate(requests, batch_size=4)
    assert [o.request_id for o in outputs] == [r.request_id for r in requests]
    for output in outputs:
        assert 1 <= output.new_tokens <= 64
        assert output.raw_text.strip()
        if output.program is not None:
            assert defines_function(output.program, output.problem_name)
    # The instruct model answers in the requested fenced format for these easy bugs.
    assert sum(o.program is not None for o in outputs) >= 2, [o.raw_text for o in outputs]
