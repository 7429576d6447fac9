"""The shared prompt template: generation prompt == training prompt, response = fenced fix."""

from __future__ import annotations

import copy

import pytest
from model_helpers import TRAINING_PAIRS

from coral_dagster.model.base_model import ResolvedBaseModel, load_tokenizer
from coral_dagster.model.prompts import (
    SYSTEM_PROMPT,
    encode_prompt,
    encode_training_example,
    prompt_text,
    training_texts,
)

NAME, BUGGY, FIXED = TRAINING_PAIRS[0]


@pytest.fixture(scope="module")
def tokenizer(tiny_base: ResolvedBaseModel):
    return load_tokenizer(tiny_base)


def test_chat_prompt_asks_for_the_named_function_in_a_fence(tokenizer) -> None:
    text = prompt_text(tokenizer, NAME, BUGGY)
    assert SYSTEM_PROMPT in text
    assert f"`{NAME}`" in text
    assert f"```python\n{BUGGY.strip()}\n```" in text
    assert text.endswith("<|im_start|>assistant\n")


def test_training_prompt_ids_are_the_generation_prompt_ids(tokenizer) -> None:
    prompt_ids, response_ids = encode_training_example(tokenizer, NAME, BUGGY, FIXED)
    assert prompt_ids == encode_prompt(tokenizer, NAME, BUGGY)
    response = tokenizer.decode(response_ids)
    assert response == f"```python\n{FIXED.strip()}\n```<|im_end|>\n"


def test_plain_template_without_chat_template_ends_response_with_eos(tokenizer) -> None:
    plain = copy.deepcopy(tokenizer)
    plain.chat_template = None
    prompt, response = training_texts(plain, NAME, BUGGY, FIXED)
    assert prompt.startswith(f"### System:\n{SYSTEM_PROMPT}")
    assert prompt.endswith("### Response:\n")
    assert response == f"```python\n{FIXED.strip()}\n```{plain.eos_token}"
    prompt_ids, _ = encode_training_example(plain, NAME, BUGGY, FIXED)
    assert prompt_ids == encode_prompt(plain, NAME, BUGGY)


def test_chat_template_that_does_not_extend_the_prompt_is_rejected(tokenizer) -> None:
    odd = copy.deepcopy(tokenizer)
    odd.chat_template = (
        "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant (answer below):\n{% endif %}"
    )
    with pytest.raises(ValueError, match="renders the generation prompt differently"):
        training_texts(odd, NAME, BUGGY, FIXED)
