"""The `line` patch format: prompt, training examples and shared-prefill generation."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from model_helpers import FAST_LINE_GENES, GCD_BUGGY, GCD_FIX, GCD_TASK
from safetensors.torch import load_file

from coral_dagster.domain.config import TrainingConfig
from coral_dagster.domain.genome import CheapKnobs
from coral_dagster.model.base_model import ResolvedBaseModel, load_tokenizer
from coral_dagster.model.generation import LineOutput, LineRequest, PatchGenerator
from coral_dagster.model.prompts import (
    SYSTEM_PROMPT,
    LineTask,
    encode_line_prompt,
    encode_line_training_example,
    line_prompt_text,
    line_response_text,
    line_training_texts,
    line_user_message,
    numbered_listing,
    numbered_response_text,
)
from coral_dagster.model.training import IGNORE_INDEX, LineTrainingExample, encode_example
from coral_dagster.model.training import train_adapter as train

GCD = GCD_BUGGY
TASK = GCD_TASK
FIX = GCD_FIX
GENES = FAST_LINE_GENES


@pytest.fixture(scope="module")
def tokenizer(tiny_base: ResolvedBaseModel):
    return load_tokenizer(tiny_base)


def test_listing_numbers_every_line_and_marks_the_place() -> None:
    assert numbered_listing(GCD, 4, 1) == (
        "   1 | def gcd(a, b):\n"
        "   2 |     if b == 0:\n"
        "   3 |         return a\n"
        ">> 4 |     return gcd(a % b, b)"
    )
    assert numbered_listing(GCD, 2, 2).splitlines()[1:3] == [
        ">> 2 |     if b == 0:",
        ">> 3 |         return a",
    ]
    assert numbered_listing(GCD, 3, 0).splitlines()[2:4] == [">>   |", "   3 |         return a"]
    assert numbered_listing(GCD, 5, 0).splitlines()[-1] == ">>   |"
    assert ">>" not in numbered_listing(GCD, None)


def test_instructions_name_the_line_the_missing_line_or_the_answer_form() -> None:
    assert line_user_message(TASK).startswith(
        "The Python function `gcd` below has a bug on line 4, marked `>>`. Reply with only the "
        "fixed line 4.\n\n```\n   1 | def gcd(a, b):"
    )
    missing = line_user_message(LineTask("gcd", GCD, 3, 0))
    assert "is missing one line at the place marked `>>` (before line 3)" in missing
    assert "lines 2-3, marked `>>`" in line_user_message(LineTask("gcd", GCD, 2, 2))
    assert "as `N: fixed line`" in line_user_message(LineTask("gcd", GCD, None))


def test_a_place_outside_the_program_is_refused() -> None:
    with pytest.raises(ValueError, match="line task 'gcd': place line 5"):
        LineTask("gcd", GCD, 5, 1)
    LineTask("gcd", GCD, 5, 0)  # inserting after the last line is a place


def test_training_prompt_is_the_generation_prompt_and_the_target_is_the_line(tokenizer) -> None:
    answer = line_response_text(TASK, [FIX])
    assert answer == FIX
    prompt, response = line_training_texts(tokenizer, TASK, answer)
    assert prompt == line_prompt_text(tokenizer, TASK)
    assert SYSTEM_PROMPT in prompt and prompt.endswith("<|im_start|>assistant\n")
    assert response == f"{FIX}<|im_end|>\n"
    prompt_ids, response_ids = encode_line_training_example(tokenizer, TASK, answer)
    assert prompt_ids == encode_line_prompt(tokenizer, TASK)
    assert tokenizer.decode(response_ids) == response
    assert numbered_response_text(4, [FIX]) == "4: return gcd(b, a % b)"
    with pytest.raises(ValueError, match="empty answer"):
        line_response_text(TASK, ["  "])


def test_plain_template_ends_a_line_answer_with_eos(tokenizer) -> None:
    plain = copy.deepcopy(tokenizer)
    plain.chat_template = None
    prompt, response = line_training_texts(plain, TASK, FIX)
    assert prompt.endswith("### Response:\n") and "marked `>>`" in prompt
    assert response == FIX + plain.eos_token


def test_line_examples_train_on_the_answer_tokens_only(
    tiny_base: ResolvedBaseModel, tokenizer, tmp_path: Path
) -> None:
    example = LineTrainingExample(TASK, FIX)
    encoded = encode_example(tokenizer, example, max_length=1024)
    prompt_ids = encode_line_prompt(tokenizer, TASK)
    assert encoded.labels[: len(prompt_ids)] == [IGNORE_INDEX] * len(prompt_ids)
    assert tokenizer.decode(encoded.labels[len(prompt_ids) :]) == f"{FIX}<|im_end|>\n"

    examples = [example, LineTrainingExample(LineTask("gcd", GCD, 3, 0), "        a = abs(a)")]
    config = TrainingConfig(max_steps=2, batch_size=2, max_length=256, seed=4)
    weights = []
    for run in ("one", "two"):
        report = train(tiny_base, GENES, examples, config, tmp_path / run, device="cpu")
        assert report.examples == 2 and len(report.losses) == 2
        weights.append(load_file(tmp_path / run / "adapter_model.safetensors"))
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


SAMPLED = CheapKnobs(1.2, 1.0, 0, 1.0, 6, True)
GREEDY = CheapKnobs(1.0, 1.0, 0, 1.0, 6, False)


@pytest.fixture(scope="module")
def generator(tiny_base: ResolvedBaseModel, tiny_adapters: dict[str, Path]) -> PatchGenerator:
    patch_generator = PatchGenerator(tiny_base, device="cpu", dtype="float32")
    for name, path in tiny_adapters.items():
        patch_generator.load_adapter(name, path)
    return patch_generator


def _line_requests() -> list[LineRequest]:
    other = LineTask("gcd", GCD, 3, 0)
    requests = []
    for adapter in (None, "lora_a", "dora"):
        for seed in range(3):
            for k, task in enumerate((TASK, other)):
                knobs = GREEDY if seed == 0 else SAMPLED
                requests.append(LineRequest(f"{adapter}/{seed}/{k}", adapter, knobs, task, seed))
    return requests


def test_shared_prefill_rows_match_rows_decoded_alone(generator: PatchGenerator) -> None:
    requests = _line_requests()
    together = generator.generate_lines(requests, batch_size=8)
    assert [o.request_id for o in together] == [r.request_id for r in requests]
    assert all(isinstance(o, LineOutput) for o in together)
    alone = [generator.generate_lines([r])[0] for r in requests]
    assert [o.raw_text for o in together] == [o.raw_text for o in alone]
    assert together[0].prompt_tokens == len(encode_line_prompt(generator.tokenizer, TASK))
    assert all(1 <= o.new_tokens <= 6 for o in together)
    sampled = {o.raw_text for r, o in zip(requests, together, strict=True) if r.knobs.do_sample}
    assert len(sampled) > 1
    by_adapter = {
        r.adapter_name: o.raw_text for r, o in zip(requests, together, strict=True) if r.seed == 0
    }
    assert by_adapter["lora_a"] != by_adapter[None] or by_adapter["dora"] != by_adapter[None]


def test_shared_prefill_uses_one_prompt_forward_per_task_and_adapter(
    generator: PatchGenerator,
) -> None:
    widths: list[tuple[int, int]] = []
    embedding = generator.model.get_input_embeddings()
    handle = embedding.register_forward_pre_hook(
        lambda module, args: widths.append(tuple(args[0].shape))
    )
    try:
        requests = [LineRequest(f"r{s}", None, SAMPLED, TASK, s) for s in range(5)]
        generator.generate_lines(requests, batch_size=8)
    finally:
        handle.remove()
    prompt = len(encode_line_prompt(generator.tokenizer, TASK))
    assert widths[0] == (1, prompt)  # one row holds the prompt ...
    assert all(w[1] == 1 for w in widths[1:])  # ... then one token per row per step


def test_line_requests_are_checked(generator: PatchGenerator) -> None:
    with pytest.raises(KeyError, match="adapter 'nope' is not loaded"):
        generator.generate_lines([LineRequest("r", "nope", GREEDY, TASK, 0)])
    with pytest.raises(ValueError, match="duplicate generation request ids"):
        generator.generate_lines([LineRequest("r", None, GREEDY, TASK, 0)] * 2)
