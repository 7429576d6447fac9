"""Adapter training on tiny-random: gene validation, loss masking, determinism, save/reload."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from coral_dagster.domain.config import TrainingConfig
from coral_dagster.domain.genome import HeavyGenes
from coral_dagster.model.base_model import (
    ResolvedBaseModel,
    load_model_and_tokenizer,
    load_tokenizer,
)
from coral_dagster.model.prompts import encode_prompt
from coral_dagster.model.training import (
    IGNORE_INDEX,
    TrainingExample,
    collate_batch,
    encode_example,
    lora_config,
    response_cross_entropy,
    targetable_modules,
    train_adapter,
    validate_genes,
)

GENES = HeavyGenes(
    rank=4,
    alpha=8,
    dropout=0.1,
    target_modules=("q_proj", "v_proj"),
    adapter_type="lora",
    learning_rate=1e-2,
)
FAST = TrainingConfig(max_steps=1, batch_size=2, max_length=256, seed=0)


def _genes(**changes: object) -> HeavyGenes:
    return HeavyGenes(**{**GENES.to_dict(), **changes})


@pytest.fixture(scope="module")
def tiny_model(tiny_base: ResolvedBaseModel):
    model, _ = load_model_and_tokenizer(tiny_base, device="cpu")
    return model


def test_targetable_modules_are_the_llama_projections(tiny_model) -> None:
    names = targetable_modules(tiny_model)
    for name in ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"):
        assert name in names


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rank": 0}, "heavy gene rank: must be >= 1, got 0"),
        ({"alpha": 0.0}, "heavy gene alpha: must be > 0"),
        ({"dropout": 1.0}, r"heavy gene dropout: must be in \[0, 1\), got 1.0"),
        ({"dropout": -0.1}, "heavy gene dropout"),
        ({"learning_rate": 0.0}, "heavy gene learning_rate"),
        ({"target_modules": ()}, "heavy gene target_modules: empty"),
        (
            {"target_modules": ("q_proj", "foo_proj")},
            r"heavy gene target_modules: module 'foo_proj' does not exist in the model "
            r"\(known: .*q_proj",
        ),
    ],
)
def test_malformed_genes_are_named(tiny_model, changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate_genes(tiny_model, _genes(**changes))


def test_unknown_adapter_type_is_named(tiny_model) -> None:
    genes = _genes()
    object.__setattr__(genes, "adapter_type", "ia3")  # bypass HeavyGenes' own check
    with pytest.raises(ValueError, match="heavy gene adapter_type: 'ia3'"):
        validate_genes(tiny_model, genes)


def test_bad_genes_fail_before_training_writes_anything(
    tiny_base: ResolvedBaseModel, tiny_examples: list[TrainingExample], tmp_path: Path
) -> None:
    calls: list[int] = []
    with pytest.raises(ValueError, match="module 'nope_proj'"):
        train_adapter(
            tiny_base,
            _genes(target_modules=("nope_proj",)),
            tiny_examples,
            FAST,
            tmp_path / "out",
            device="cpu",
            progress=lambda step, total, loss: calls.append(step),
        )
    assert calls == []
    assert not (tmp_path / "out").exists()


def test_labels_cover_response_tokens_only(
    tiny_base: ResolvedBaseModel, tiny_examples: list[TrainingExample]
) -> None:
    tokenizer = load_tokenizer(tiny_base)
    example = tiny_examples[0]
    prompt_ids = encode_prompt(tokenizer, example.name, example.buggy_source)
    encoded = encode_example(tokenizer, example, max_length=1024)
    assert encoded.input_ids[: len(prompt_ids)] == prompt_ids
    assert encoded.labels[: len(prompt_ids)] == [IGNORE_INDEX] * len(prompt_ids)
    response = encoded.labels[len(prompt_ids) :]
    assert response == encoded.input_ids[len(prompt_ids) :]
    assert IGNORE_INDEX not in response
    assert not encoded.truncated

    cut = encode_example(tokenizer, example, max_length=len(prompt_ids) + 3)
    assert len(cut.input_ids) == len(cut.labels) == len(prompt_ids) + 3
    assert cut.truncated
    with pytest.raises(ValueError, match=rf"training example '{example.name}'.*max_length"):
        encode_example(tokenizer, example, max_length=len(prompt_ids))


def test_response_cross_entropy_equals_the_full_logits_loss_and_its_gradients(
    tiny_base: ResolvedBaseModel, tiny_examples: list[TrainingExample]
) -> None:
    """Projecting only the response positions gives the loss and the LoRA gradients of
    cross-entropy over the full logits (padding and prompt positions ignored)."""
    from peft import get_peft_model

    model, tokenizer = load_model_and_tokenizer(tiny_base, device="cpu", dtype="float32")
    torch.manual_seed(0)
    peft_model = get_peft_model(model, lora_config(_genes(dropout=0.0)))
    with torch.no_grad():  # PEFT starts B at 0, which makes every A gradient 0: move it off
        for name, parameter in peft_model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0.0, 0.02)
    encoded = [encode_example(tokenizer, e, 1024) for e in tiny_examples[:3]]
    input_ids, attention_mask, labels = collate_batch(encoded, tokenizer.pad_token_id, "cpu")
    assert int((attention_mask == 0).sum()) > 0  # the batch has padding

    def gradients(loss: torch.Tensor) -> list[torch.Tensor]:
        trainable = [p for p in peft_model.parameters() if p.requires_grad]
        return list(torch.autograd.grad(loss, trainable))

    logits = peft_model(input_ids=input_ids, attention_mask=attention_mask).logits
    full = torch.nn.functional.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]),
        labels[:, 1:].reshape(-1),
        ignore_index=IGNORE_INDEX,
        reduction="sum",
    )
    expected = gradients(full)
    got_loss = response_cross_entropy(peft_model, input_ids, attention_mask, labels)
    assert float(got_loss) == pytest.approx(float(full), rel=1e-6)
    got_gradients = gradients(got_loss)
    assert all(float(g.abs().max()) > 0 for g in expected)  # A and B gradients both live
    for got, want in zip(got_gradients, expected, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6)


def test_training_reports_and_saves_an_adapter(
    tiny_base: ResolvedBaseModel, tiny_examples: list[TrainingExample], tmp_path: Path
) -> None:
    progress: list[tuple[int, int, float]] = []
    report = train_adapter(
        tiny_base,
        _genes(dropout=0.0, learning_rate=5e-2),
        tiny_examples,
        TrainingConfig(max_steps=4, batch_size=2, gradient_accumulation=2, max_length=256),
        tmp_path / "adapter",
        device="cpu",
        progress=lambda *args: progress.append(args),
    )
    assert (tmp_path / "adapter" / "adapter_config.json").is_file()
    weights = load_file(tmp_path / "adapter" / "adapter_model.safetensors")
    assert sum(t.numel() for t in weights.values()) == report.trainable_params
    # 2 layers x (q_proj: A 4x64 + B 64x4, v_proj: A 4x64 + B 32x4)
    assert report.trainable_params == 2 * ((4 * 64 + 64 * 4) + (4 * 64 + 32 * 4))
    assert report.trainable_params < report.total_params
    assert report.steps == 4 and report.examples == len(tiny_examples)
    assert len(report.losses) == 4 and all(math.isfinite(x) for x in report.losses)
    assert report.losses[-1] < report.losses[0]
    assert [p[0] for p in progress] == [1, 2, 3, 4]
    assert [p[2] for p in progress] == report.losses
    assert report.tokens_per_second > 0 and report.seconds > 0
    assert report.to_dict()["losses"] == report.losses


def test_epochs_set_the_number_of_steps(
    tiny_base: ResolvedBaseModel, tiny_examples: list[TrainingExample], tmp_path: Path
) -> None:
    config = TrainingConfig(max_steps=None, epochs=1.5, batch_size=4, max_length=256)
    report = train_adapter(tiny_base, GENES, tiny_examples, config, tmp_path / "a", device="cpu")
    assert report.steps == math.ceil(1.5 * len(tiny_examples) / 4) == 2


@pytest.mark.parametrize("adapter_type", ["lora", "dora"])
def test_same_seed_gives_bitwise_identical_adapters(
    tiny_base: ResolvedBaseModel,
    tiny_examples: list[TrainingExample],
    tmp_path: Path,
    adapter_type: str,
) -> None:
    genes = _genes(adapter_type=adapter_type)
    runs = {}
    for name, seed in (("first", 0), ("second", 0), ("other_seed", 1)):
        config = TrainingConfig(max_steps=2, batch_size=2, max_length=256, seed=seed)
        report = train_adapter(tiny_base, genes, tiny_examples, config, tmp_path / name, "cpu")
        runs[name] = (report.losses, load_file(tmp_path / name / "adapter_model.safetensors"))
    first_losses, first = runs["first"]
    second_losses, second = runs["second"]
    assert first_losses == second_losses
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    if adapter_type == "dora":
        assert any("lora_magnitude_vector" in k for k in first)
    other = runs["other_seed"][1]
    assert any(not torch.equal(first[k], other[k]) for k in first)


def test_training_leaves_the_callers_rng_alone(
    tiny_base: ResolvedBaseModel, tiny_examples: list[TrainingExample], tmp_path: Path
) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    train_adapter(tiny_base, GENES, tiny_examples, FAST, tmp_path / "a", device="cpu")
    assert torch.equal(torch.rand(3), expected)
