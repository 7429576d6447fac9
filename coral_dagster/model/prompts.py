"""The one prompt template module used by both adapter training and patch generation/scoring.

Two patch formats share the system prompt and the rendering:

``function`` (the model rewrites the whole function)::

    system:    SYSTEM_PROMPT
    user:      "The Python function `<name>` below has a bug. ... ```python <buggy> ```"
    assistant: "```python\\n<fixed>\\n```"         (training target; generated at inference)

``line`` (the model answers only the replacement line(s); ``LineTask``): the user turn shows
the buggy program as a numbered listing in a plain fence, one line per program line::

    "   9 |         else:"
    ">> 10 |             return search_from(x)"      (a marked line: '>>' before its number)

With oracle localisation (``LineTask.start`` set) the marked lines are those to replace; an
insertion (``count == 0``) is shown as an extra marked line without a number (``">>    |"``)
before line ``start``; the answer (training target) is only the replacement line(s), with the
indentation they have in the fixed program, no fence. With ``localization: none``
(``start=None``) nothing is marked and the answer names the line: ``N: <code>`` per line.

With a chat template (SmolLM2, most instruct/code models) the turns are rendered by it;
without one, a plain ``### System / ### Instruction / ### Response`` layout is used and the
response ends with the eos token. Training tokenises prompt and response separately and
concatenates them, so the prompt ids seen in training are exactly those fed at inference.
Bump ``PROMPT_TEMPLATE_VERSION`` (in ``versions.py``) whenever any ``function``-format text
here changes; the ``line`` format is new and not yet part of any cache key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from coral_dagster.model.versions import PROMPT_TEMPLATE_VERSION

__all__ = [
    "LINE_MARKER",
    "PROMPT_TEMPLATE_VERSION",
    "SYSTEM_PROMPT",
    "LineTask",
    "encode_line_prompt",
    "encode_line_training_example",
    "encode_prompt",
    "encode_training_example",
    "line_prompt_text",
    "line_response_text",
    "line_training_texts",
    "line_user_message",
    "numbered_listing",
    "numbered_response_text",
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


def _messages(user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _render_prompt(tokenizer: Any, user: str) -> str:
    if tokenizer.chat_template:
        return tokenizer.apply_chat_template(
            _messages(user), tokenize=False, add_generation_prompt=True
        )
    return PLAIN_TEMPLATE.format(system=SYSTEM_PROMPT, user=user)


def _render_training(tokenizer: Any, user: str, answer: str, label: str) -> tuple[str, str]:
    prompt = _render_prompt(tokenizer, user)
    if not tokenizer.chat_template:
        if tokenizer.eos_token is None:
            raise ValueError("plain prompt template needs a tokenizer with an eos token")
        return prompt, answer + tokenizer.eos_token
    full = tokenizer.apply_chat_template(
        [*_messages(user), {"role": "assistant", "content": answer}], tokenize=False
    )
    if not full.startswith(prompt):
        raise ValueError(
            "the tokenizer's chat template renders the generation prompt differently from the "
            f"start of the full conversation (problem {label!r}); training and generation "
            "would not share one prompt"
        )
    return prompt, full[len(prompt) :]


def prompt_text(tokenizer: Any, function_name: str, buggy_source: str) -> str:
    """The prompt text up to where the model starts answering."""
    return _render_prompt(tokenizer, user_message(function_name, buggy_source))


def training_texts(
    tokenizer: Any, function_name: str, buggy_source: str, fixed_source: str
) -> tuple[str, str]:
    """(prompt, response) texts of one training example; prompt + response is the whole
    conversation, and the response includes the end-of-turn marker the model must learn."""
    return _render_training(
        tokenizer,
        user_message(function_name, buggy_source),
        response_text(fixed_source),
        function_name,
    )


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


# ---------------------------------------------------------------------------------------------
# The ``line`` format

LINE_MARKER = ">>"


@dataclass(frozen=True)
class LineTask:
    """One ``line``-format question: the buggy program and, with oracle localisation, the
    place to fix (replace ``count`` lines from line ``start``, 1-based; ``count == 0``: a
    missing line goes before line ``start``). ``start=None``: no localisation (``none``)."""

    function_name: str
    buggy_source: str
    start: int | None
    count: int = 1

    def __post_init__(self) -> None:
        n_lines = len(self.buggy_source.splitlines())
        if self.start is None:
            return
        last = n_lines + 1 if self.count == 0 else n_lines
        if self.count < 0 or not 1 <= self.start <= last or self.start + self.count - 1 > n_lines:
            raise ValueError(
                f"line task {self.function_name!r}: place line {self.start} (+{self.count}) is "
                f"outside the program (1..{n_lines})"
            )


def numbered_listing(buggy_source: str, start: int | None = None, count: int = 1) -> str:
    """The program with ``N | `` before every line (numbers right-aligned), the lines of the
    place marked ``>>``; an insertion place is an extra marked line with no number."""
    lines = buggy_source.rstrip("\n").splitlines()
    width = len(str(len(lines) + 1))
    blank = " " * len(LINE_MARKER)
    rows = []
    for number, line in enumerate(lines, start=1):
        if start is not None and count == 0 and number == start:
            rows.append(f"{LINE_MARKER} {'':>{width}} |")
        marked = start is not None and start <= number < start + count
        rows.append(f"{LINE_MARKER if marked else blank} {number:>{width}} | {line}".rstrip())
    if start is not None and count == 0 and start == len(lines) + 1:
        rows.append(f"{LINE_MARKER} {'':>{width}} |")
    return "\n".join(rows)


def _line_instruction(task: LineTask) -> str:
    name = f"`{task.function_name}`"
    if task.start is None:
        return (
            f"The Python function {name} below has a bug on one line. Reply with only the "
            "number of that line and the fixed line, as `N: fixed line`."
        )
    if task.count == 0:
        return (
            f"The Python function {name} below is missing one line at the place marked "
            f"`{LINE_MARKER}` (before line {task.start}). Reply with only the missing line."
        )
    if task.count == 1:
        return (
            f"The Python function {name} below has a bug on line {task.start}, marked "
            f"`{LINE_MARKER}`. Reply with only the fixed line {task.start}."
        )
    last = task.start + task.count - 1
    return (
        f"The Python function {name} below has a bug on lines {task.start}-{last}, marked "
        f"`{LINE_MARKER}`. Reply with only the fixed lines {task.start}-{last}."
    )


def line_user_message(task: LineTask) -> str:
    """The user turn of a ``line`` question: the instruction and the numbered listing."""
    listing = numbered_listing(task.buggy_source, task.start, task.count)
    return f"{_line_instruction(task)}\n\n```\n{listing}\n```"


def line_response_text(task: LineTask, lines: Sequence[str]) -> str:
    """The oracle-localisation answer that puts ``lines`` at ``task``'s place: the lines as
    given (trailing blanks removed), one per answer line. ``none`` tasks answer with
    ``numbered_response_text``."""
    if not lines or not any(line.strip() for line in lines):
        raise ValueError(f"line task {task.function_name!r}: empty answer")
    if task.start is None:
        raise ValueError(
            f"line task {task.function_name!r}: a 'none' answer needs its line number; use "
            "numbered_response_text"
        )
    return "\n".join(line.rstrip() for line in lines)


def numbered_response_text(first_line: int, lines: Sequence[str]) -> str:
    """A ``none``-localisation answer: ``N: <code>`` for lines ``first_line``, ... ."""
    if not lines or first_line < 1:
        raise ValueError(f"numbered answer needs lines and a line number >= 1, got {first_line}")
    return "\n".join(f"{first_line + k}: {line.strip()}" for k, line in enumerate(lines))


def line_prompt_text(tokenizer: Any, task: LineTask) -> str:
    """The ``line`` prompt text up to where the model starts answering."""
    return _render_prompt(tokenizer, line_user_message(task))


def line_training_texts(tokenizer: Any, task: LineTask, answer: str) -> tuple[str, str]:
    """(prompt, response) texts of a ``line`` example whose answer text is ``answer``
    (``line_response_text`` or ``numbered_response_text``); the response ends with the
    end-of-turn marker."""
    return _render_training(tokenizer, line_user_message(task), answer, task.function_name)


def encode_line_prompt(tokenizer: Any, task: LineTask) -> list[int]:
    """Token ids of a ``line`` prompt."""
    return _encode(
        tokenizer, line_prompt_text(tokenizer, task), add_special_tokens=not tokenizer.chat_template
    )


def encode_line_training_example(
    tokenizer: Any, task: LineTask, answer: str
) -> tuple[list[int], list[int]]:
    """(prompt ids, response ids) of a ``line`` example; the prompt ids equal
    ``encode_line_prompt``'s."""
    _, response = line_training_texts(tokenizer, task, answer)
    return encode_line_prompt(tokenizer, task), _encode(
        tokenizer, response, add_special_tokens=False
    )
