"""The one prompt template used by both adapter training and patch generation.

With a chat template (SmolLM2, most instruct/code models) the conversation is::

    system:    SYSTEM_PROMPT
    user:      "The Python function `<name>` below has a bug. ... ```python <buggy> ```"
    assistant: "```python\\n<fixed>\\n```"         (training target; generated at inference)

Without one, a plain ``### System / ### Instruction / ### Response`` layout is used and the
response ends with the eos token. Training tokenises prompt and response separately and
concatenates them, so the prompt ids seen in training are exactly those fed at inference.
Bump ``PROMPT_TEMPLATE_VERSION`` (in ``versions.py``) whenever any text here changes.
"""

from __future__ import annotations

from typing import Any

from coral_dagster.model.versions import PROMPT_TEMPLATE_VERSION

__all__ = [
    "PROMPT_TEMPLATE_VERSION",
    "SYSTEM_PROMPT",
    "encode_prompt",
    "encode_training_example",
    "prompt_text",
    "response_text",
    "training_texts",
    "user_message",
]

SYSTEM_PROMPT = "You are an expert Python programmer. You repair bugs in Python code."

PLAIN_TEMPLATE = "### System:\n{system}\n\n### Instruction:\n{user}\n\n### Response:\n"


def user_message(function_name: str, buggy_source: str) -> str:
    """The user turn: the task and the buggy program in a fenced block."""
    return (
        f"The Python function `{function_name}` below has a bug. Fix the bug and return the "
        f"complete fixed function `{function_name}` in a single ```python fenced code block.\n\n"
        f"```python\n{buggy_source.strip()}\n```"
    )


def response_text(fixed_source: str) -> str:
    """The assistant turn used as the training target: the fixed program in a fenced block."""
    return f"```python\n{fixed_source.strip()}\n```"


def _messages(function_name: str, buggy_source: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": user_message(function_name, buggy_source)},
    ]


def prompt_text(tokenizer: Any, function_name: str, buggy_source: str) -> str:
    """The prompt text up to where the model starts answering."""
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(
            _messages(function_name, buggy_source), tokenize=False, add_generation_prompt=True
        )
    return PLAIN_TEMPLATE.format(
        system=SYSTEM_PROMPT, user=user_message(function_name, buggy_source)
    )


def training_texts(
    tokenizer: Any, function_name: str, buggy_source: str, fixed_source: str
) -> tuple[str, str]:
    """(prompt, response) texts of one training example; prompt + response is the whole
    conversation, and the response includes the end-of-turn marker the model must learn."""
    prompt = prompt_text(tokenizer, function_name, buggy_source)
    answer = response_text(fixed_source)
    if not tokenizer.chat_template:
        if tokenizer.eos_token is None:
            raise ValueError("plain prompt template needs a tokenizer with an eos token")
        return prompt, answer + tokenizer.eos_token
    full = tokenizer.apply_chat_template(
        [*_messages(function_name, buggy_source), {"role": "assistant", "content": answer}],
        tokenize=False,
    )
    if not full.startswith(prompt):
        raise ValueError(
            "the tokenizer's chat template renders the generation prompt differently from the "
            f"start of the full conversation (problem {function_name!r}); training and generation "
            "would not share one prompt"
        )
    return prompt, full[len(prompt) :]


def _encode(tokenizer: Any, text: str, add_special_tokens: bool) -> list[int]:
    return list(tokenizer(text, add_special_tokens=add_special_tokens)["input_ids"])


def encode_prompt(tokenizer: Any, function_name: str, buggy_source: str) -> list[int]:
    """Token ids of the prompt (chat templates carry their own special tokens)."""
    text = prompt_text(tokenizer, function_name, buggy_source)
    return _encode(tokenizer, text, add_special_tokens=not tokenizer.chat_template)


def encode_training_example(
    tokenizer: Any, function_name: str, buggy_source: str, fixed_source: str
) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids); the prompt ids equal ``encode_prompt``'s."""
    _, response = training_texts(tokenizer, function_name, buggy_source, fixed_source)
    prompt_ids = encode_prompt(tokenizer, function_name, buggy_source)
    return prompt_ids, _encode(tokenizer, response, add_special_tokens=False)
