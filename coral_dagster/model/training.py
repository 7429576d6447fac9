"""PEFT LoRA/DoRA adapter training on (buggy program -> fix) pairs.

Examples come in the two patch formats of ``prompts``: ``TrainingExample`` (``function``: the
response is the whole fixed program) and ``LineTrainingExample`` (``line``: the response is
only the replacement line(s) of the marked place), and as ``ProgramTrainingExample`` for the
``edit`` format's whole-program score (below). A plain torch loop, readable end to end:

- each example is ``prompt ids + response ids`` (``prompts.encode_training_example`` /
  ``prompts.encode_line_training_example``, the same prompt as generation; for programs, what
  the program score reads), truncated to ``max_length`` tokens; labels are -100 on the prompt and on
  padding, so the loss covers response tokens only;
- the example order is the concatenation of seeded permutations (one per epoch) drawn from a
  ``torch.Generator`` seeded with ``config.seed``; an optimizer step consumes
  ``batch_size * gradient_accumulation`` examples (right-padded micro-batches of ``batch_size``);
- step loss = sum of token cross-entropies over the step's micro-batches / number of response
  tokens in the step (an exact token mean under gradient accumulation); only the response
  positions go through the output layer (``response_cross_entropy``);
- AdamW at ``genes.learning_rate`` (no weight decay, constant rate), gradients clipped to norm
  ``MAX_GRAD_NORM``; ``max_steps`` optimizer steps, or ``ceil(epochs * examples / per_step)``.

Ranking loss (``training.ranking_weight`` w > 0; ``edit`` patches choose among candidates by
their score, so the adapter is also taught to order them): a ``LineTrainingExample`` with
``negatives`` (other single edits of its marked line, which do not fix it) is scored by the
code the ``edit`` format ranks candidates with (``model.likelihood``), in one prompt prefill
shared by the K + 1 responses (each cut after its first stop token): ``s_0`` for its answer,
``s_1 .. s_K`` for the negatives, each the response's log-likelihood per token
(``score="mean"``) or in total (``"sum"``). Its ranking loss is the listwise softmax
cross-entropy
``l = -log(exp(s_0) / sum_j exp(s_j))`` (nats; log(K + 1) when the model cannot tell them
apart, 0 when the answer wins outright), and its language-model term comes from the same
forward: the answer row's token cross-entropies (the answer up to its stop token, not the
template's newline after it; no truncation, a line answer is short). Step loss = the token
mean over the step's response tokens + ``w * mean(l)`` over the step's examples with negatives.
Sharing the forward keeps a ranked example close to a plain one in cost
(``bench/ranking_training.py``: 1.28x the seconds per step with 8 negatives).

Program examples (``ProgramTrainingExample``; ``patch.candidate_score: program`` ranks whole
programs read as plain text, so training reads them the same way, ``model.scoring.program_ids``):
the "prompt" is the token prefix the fixed program shares with the buggy one (after the
document start), the "response" the rest of the fixed program, so the language-model term is
``-log p(rest of the fixed program | shared prefix)`` per token: generation ranks candidates by
the sum of such log-probabilities after the prefix all candidates share, which differs from this
split by one constant per problem. With negatives (wrong edits' programs) the ranking rows are
the fixed program and the negatives, split after their shared prefix: ``s_j = log p(rest of
program j | shared prefix)``; the language-model term comes from the plain batches, as without
negatives.

``torch.manual_seed(config.seed)`` (inside ``fork_rng``, so the caller's RNG is untouched) fixes
the LoRA initialisation and dropout: on CPU two runs give bitwise-identical adapter weights.
"""

from __future__ import annotations

import gc
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from peft import LoraConfig, TaskType, get_peft_model
from torch import nn

from coral_dagster.domain.config import TrainingConfig
from coral_dagster.domain.genome import ADAPTER_TYPES, HeavyGenes
from coral_dagster.model.base_model import (
    ResolvedBaseModel,
    cut_after_stop,
    load_model_and_tokenizer,
    stop_token_ids,
)
from coral_dagster.model.likelihood import response_logprobs
from coral_dagster.model.prompts import (
    LineTask,
    encode_line_training_example,
    encode_training_example,
)
from coral_dagster.model.scoring import program_ids
from coral_dagster.model.versions import TRAINING_CODE_VERSION

__all__ = [
    "MAX_GRAD_NORM",
    "TRAINING_CODE_VERSION",
    "EncodedExample",
    "LineTrainingExample",
    "ProgramTrainingExample",
    "TrainingExample",
    "TrainingReport",
    "collate_batch",
    "encode_example",
    "lora_config",
    "response_cross_entropy",
    "targetable_modules",
    "train_adapter",
    "validate_genes",
]

MAX_GRAD_NORM = 1.0
IGNORE_INDEX = -100

ProgressCallback = Callable[[int, int, float], None]


@dataclass(frozen=True)
class TrainingExample:
    """One (buggy -> fixed) pair; ``name`` is the function to repair."""

    name: str
    buggy_source: str
    fixed_source: str


@dataclass(frozen=True)
class LineTrainingExample:
    """One ``line``-format example: ``task`` (program + marked place) and ``answer``, the exact
    response text (``prompts.line_response_text`` or ``prompts.numbered_response_text``);
    ``negatives``: wrong answers in the same form, which the ranking loss ranks below
    ``answer`` (empty: the example has no ranking term)."""

    task: LineTask
    answer: str
    negatives: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.task.function_name


@dataclass(frozen=True)
class ProgramTrainingExample:
    """One example for ``patch.candidate_score: program``: the buggy and the fixed program as
    plain text (no prompt); ``negatives``: programs of wrong edits, which the ranking loss ranks
    below the fixed program (empty: no ranking term)."""

    name: str
    buggy_source: str
    fixed_source: str
    negatives: tuple[str, ...] = ()


AnyExample = TrainingExample | LineTrainingExample | ProgramTrainingExample


@dataclass
class TrainingReport:
    """What one training run did. ``losses``: one value per optimizer step (mean token
    cross-entropy, nats); ``ranking_losses``: per step, the mean ranking loss of its examples
    with negatives (nats; empty when the ranking loss is off); ``tokens_per_second``:
    non-padding tokens processed (prompt and every ranking row of a ranked example) /
    ``seconds`` (the training loop only, without model loading)."""

    trainable_params: int
    total_params: int
    losses: list[float]
    ranking_losses: list[float]
    tokens_per_second: float
    seconds: float
    steps: int
    examples: int
    truncated_examples: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class EncodedExample:
    """``ranked``: (prompt ids, response ids of the answer then of each negative, each cut
    after its first stop token) for the ranking loss, or with the ``program`` score (shared
    prefix ids, the rest of the fixed program then of each negative program); None without
    negatives. ``language_in_ranked``: row 0 of ``ranked`` is the answer, whose token
    cross-entropies are then the example's language-model term (False: the plain batches
    carry it)."""

    input_ids: list[int]
    labels: list[int]
    truncated: bool
    ranked: tuple[list[int], tuple[list[int], ...]] | None = None
    language_in_ranked: bool = True


# ---------------------------------------------------------------------------------------------
# Gene validation


def targetable_modules(model: nn.Module) -> list[str]:
    """Leaf names (e.g. ``q_proj``) of the layers LoRA/DoRA can wrap: Linear, Embedding and
    transformers' Conv1D. Layers PEFT itself added (``lora_*``, ``base_layer``) are skipped."""
    from transformers.pytorch_utils import Conv1D

    names = set()
    for qualified_name, module in model.named_modules():
        parts = qualified_name.split(".")
        if any(p.startswith("lora_") or p == "base_layer" for p in parts):
            continue
        if isinstance(module, (nn.Linear, nn.Embedding, Conv1D)) and qualified_name:
            names.add(parts[-1])
    return sorted(names)


def validate_genes(model: nn.Module, genes: HeavyGenes) -> None:
    """Raise ``ValueError`` naming the heavy gene when it cannot configure an adapter on
    ``model``: unknown adapter type, rank < 1, alpha <= 0, dropout outside [0, 1), learning
    rate <= 0, no target module, or a target module the model does not have."""
    if genes.adapter_type not in ADAPTER_TYPES:
        raise ValueError(
            f"heavy gene adapter_type: {genes.adapter_type!r} is not one of {ADAPTER_TYPES}"
        )
    if genes.rank < 1:
        raise ValueError(f"heavy gene rank: must be >= 1, got {genes.rank}")
    if not (math.isfinite(genes.alpha) and genes.alpha > 0):
        raise ValueError(f"heavy gene alpha: must be > 0, got {genes.alpha}")
    if not 0.0 <= genes.dropout < 1.0:
        raise ValueError(f"heavy gene dropout: must be in [0, 1), got {genes.dropout}")
    if not (math.isfinite(genes.learning_rate) and genes.learning_rate > 0):
        raise ValueError(f"heavy gene learning_rate: must be > 0, got {genes.learning_rate}")
    if not genes.target_modules:
        raise ValueError("heavy gene target_modules: empty, name at least one module")
    known = targetable_modules(model)
    for module in genes.target_modules:
        if module not in known:
            raise ValueError(
                f"heavy gene target_modules: module {module!r} does not exist in the model "
                f"(known: {', '.join(known)})"
            )


def lora_config(genes: HeavyGenes) -> LoraConfig:
    """PEFT config of the heavy genes (DoRA is LoRA with ``use_dora=True``)."""
    return LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=genes.rank,
        lora_alpha=genes.alpha,
        lora_dropout=genes.dropout,
        target_modules=list(genes.target_modules),
        use_dora=genes.adapter_type == "dora",
        bias="none",
    )


# ---------------------------------------------------------------------------------------------
# Data


def encode_example(
    tokenizer: Any,
    example: AnyExample,
    max_length: int,
    stop_ids: frozenset[int] = frozenset(),
    ranking_score: Literal["mean", "sum", "program"] = "mean",
) -> EncodedExample:
    """Prompt + response ids truncated to ``max_length``; labels -100 on the prompt (a program
    example's prompt is its shared prefix with the buggy program, see the module doc); for an
    example with negatives, its ranking rows as ``model.scoring`` scores them: line answers cut
    after the first of ``stop_ids`` (``mean``/``sum``), or programs split after their shared
    tokens (``program``).

    Raises ``ValueError`` naming the example when its prompt leaves no response token, when a
    line example has negatives and no ``stop_ids`` are given, or when the example's kind does
    not match ``ranking_score`` (program examples exactly for ``program``).
    """
    program_example = isinstance(example, ProgramTrainingExample)
    if program_example != (ranking_score == "program"):
        raise ValueError(
            f"training example {example.name!r}: {type(example).__name__} does not go with the "
            f"{ranking_score!r} score (program examples are for the program score only)"
        )
    if isinstance(example, ProgramTrainingExample):
        prompt_ids, (response_ids, _) = program_ids(
            tokenizer, [example.fixed_source, example.buggy_source]
        )
    elif isinstance(example, LineTrainingExample):
        prompt_ids, response_ids = encode_line_training_example(
            tokenizer, example.task, example.answer
        )
    elif isinstance(example, TrainingExample):
        prompt_ids, response_ids = encode_training_example(
            tokenizer, example.name, example.buggy_source, example.fixed_source
        )
    else:
        raise TypeError(f"training example of unknown type {type(example).__name__}")
    if len(prompt_ids) >= max_length:
        raise ValueError(
            f"training example {example.name!r}: its prompt is {len(prompt_ids)} tokens, leaving "
            f"no response token within training.max_length={max_length}; raise max_length"
        )
    input_ids = (prompt_ids + response_ids)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + response_ids)[:max_length]
    ranked = None
    if isinstance(example, ProgramTrainingExample) and example.negatives:
        prefix, rests = program_ids(tokenizer, (example.fixed_source, *example.negatives))
        ranked = (prefix, tuple(rests))
    elif isinstance(example, LineTrainingExample) and example.negatives:
        if not stop_ids:
            raise ValueError(f"training example {example.name!r}: ranking rows need stop ids")
        rows = []
        for answer in (example.answer, *example.negatives):
            _, ids = encode_line_training_example(tokenizer, example.task, answer)
            rows.append(cut_after_stop(ids, stop_ids))
        ranked = (prompt_ids, tuple(rows))
    return EncodedExample(
        input_ids=input_ids,
        labels=labels,
        truncated=len(prompt_ids) + len(response_ids) > max_length,
        ranked=ranked,
        language_in_ranked=not program_example,  # program rows: the plain batches hold it
    )


def collate_batch(
    batch: Sequence[EncodedExample], pad_token_id: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (input_ids, attention_mask, labels), each [batch, longest]."""
    width = max(len(e.input_ids) for e in batch)
    input_ids = torch.full((len(batch), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
    for row, example in enumerate(batch):
        n = len(example.input_ids)
        input_ids[row, :n] = torch.tensor(example.input_ids)
        attention_mask[row, :n] = 1
        labels[row, :n] = torch.tensor(example.labels)
    return input_ids.to(device), attention_mask.to(device), labels.to(device)


def _example_order(n_examples: int, n_needed: int, seed: int) -> list[int]:
    """Concatenated seeded permutations of range(n_examples), ``n_needed`` long."""
    generator = torch.Generator().manual_seed(seed)
    order: list[int] = []
    while len(order) < n_needed:
        order.extend(torch.randperm(n_examples, generator=generator).tolist())
    return order[:n_needed]


def _total_steps(config: TrainingConfig, n_examples: int) -> int:
    if config.max_steps is not None:
        return config.max_steps
    assert config.epochs is not None  # TrainingConfig requires one of the two
    per_step = config.batch_size * config.gradient_accumulation
    return max(1, math.ceil(config.epochs * n_examples / per_step))


# ---------------------------------------------------------------------------------------------
# Training


def train_adapter(
    base: ResolvedBaseModel,
    genes: HeavyGenes,
    examples: Sequence[AnyExample],
    config: TrainingConfig,
    out_dir: Path,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    dtype: str = "auto",
    ranking_score: Literal["mean", "sum", "program"] = "mean",
) -> TrainingReport:
    """Train one adapter and save it to ``out_dir`` (adapter_config.json,
    adapter_model.safetensors). ``progress(step, total_steps, loss)`` is called per step.
    ``ranking_score``: the candidate score the ranking loss orders (``patch.candidate_score``);
    examples' negatives are ranked only when ``config.ranking_weight > 0``."""
    if not examples:
        raise ValueError("train_adapter: no training examples")
    model, tokenizer = load_model_and_tokenizer(base, device=device, dtype=dtype)
    try:
        validate_genes(model, genes)
        stops = stop_token_ids(model, tokenizer)
        if config.ranking_weight == 0:
            examples = [_without_negatives(e) for e in examples]
        encoded = [
            encode_example(tokenizer, e, config.max_length, stops, ranking_score) for e in examples
        ]
        torch_device = next(model.parameters()).device
        cuda_devices = [torch_device.index or 0] if torch_device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda_devices):
            torch.manual_seed(config.seed)
            peft_model = get_peft_model(model, lora_config(genes))
            report = _training_loop(
                peft_model, tokenizer, encoded, config, genes, progress, ranking_score
            )
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        peft_model.save_pretrained(out_dir)
        for name in ("adapter_config.json", "adapter_model.safetensors"):
            if not (out_dir / name).is_file():
                raise RuntimeError(f"PEFT save_pretrained did not write {out_dir / name}")
        return report
    finally:
        del model
        if torch.cuda.is_available():  # hand the GPU memory back before the next model loads
            gc.collect()
            torch.cuda.empty_cache()


def _without_negatives(example: AnyExample) -> AnyExample:
    if isinstance(example, LineTrainingExample) and example.negatives:
        return LineTrainingExample(example.task, example.answer)
    if isinstance(example, ProgramTrainingExample) and example.negatives:
        return ProgramTrainingExample(example.name, example.buggy_source, example.fixed_source)
    return example


def response_cross_entropy(
    model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Sum over response tokens of ``-log p(token | everything before it)`` (nats).

    Token t predicts token t + 1, so the positions scored are those whose next label is not
    -100, and only they go through the output layer: the model's own forward with a boolean
    ``logits_to_keep`` mask (transformers' public argument; it returns the kept positions'
    logits flattened, batch-major, with whatever scaling the model applies). A line answer is
    ~10 of ~400 tokens, and projecting every prompt position onto the vocabulary (49,152 x 576
    for SmolLM2) was the largest single cost of a step (``bench/response_logits.py``)."""
    scored = labels[:, 1:] != IGNORE_INDEX
    keep = F.pad(scored, (0, 1), value=False)  # the last position predicts nothing
    logits = model(input_ids=input_ids, attention_mask=attention_mask, logits_to_keep=keep).logits
    return F.cross_entropy(logits.float(), labels[:, 1:][scored], reduction="sum")


def ranking_scores(
    totals: torch.Tensor,
    responses: Sequence[Sequence[int]],
    score: Literal["mean", "sum", "program"],
) -> torch.Tensor:
    """The candidate scores of ``response_logprobs``' totals: per token (``mean``) or total
    (``sum``, and ``program``, whose rows are the programs' rests)."""
    if score in ("sum", "program"):
        return totals
    lengths = [len(r) for r in responses]
    return totals / torch.tensor(lengths, dtype=totals.dtype, device=totals.device)


def _training_loop(
    peft_model: nn.Module,
    tokenizer: Any,
    encoded: Sequence[EncodedExample],
    config: TrainingConfig,
    genes: HeavyGenes,
    progress: ProgressCallback | None,
    ranking_score: Literal["mean", "sum", "program"],
) -> TrainingReport:
    device = next(peft_model.parameters()).device
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=genes.learning_rate, weight_decay=0.0)
    steps = _total_steps(config, len(encoded))
    micro = config.batch_size
    per_step = micro * config.gradient_accumulation
    order = _example_order(len(encoded), steps * per_step, config.seed)

    peft_model.train()
    losses: list[float] = []
    ranking_losses: list[float] = []
    tokens = 0
    start = time.perf_counter()
    for step in range(steps):
        step_order = order[step * per_step : (step + 1) * per_step]
        plain = [
            i for i in step_order if encoded[i].ranked is None or not encoded[i].language_in_ranked
        ]
        ranked = [encoded[i] for i in step_order if encoded[i].ranked is not None]
        batches = [
            collate_batch(
                [encoded[i] for i in plain[k : k + micro]], tokenizer.pad_token_id, device
            )
            for k in range(0, len(plain), micro)
        ]
        response_tokens = sum(int((labels[:, 1:] != IGNORE_INDEX).sum()) for *_, labels in batches)
        response_tokens += sum(len(e.ranked[1][0]) for e in ranked if e.language_in_ranked)
        optimizer.zero_grad(set_to_none=True)
        step_loss = 0.0
        for input_ids, attention_mask, labels in batches:
            loss = (
                response_cross_entropy(peft_model, input_ids, attention_mask, labels)
                / response_tokens
            )
            loss.backward()
            step_loss += float(loss.detach())
            tokens += int(attention_mask.sum())
        step_ranking = 0.0
        for example in ranked:  # one example at a time: its rows share a prefill
            prompt_ids, responses = example.ranked
            totals = response_logprobs(peft_model, prompt_ids, responses, tokenizer.pad_token_id)
            scores = ranking_scores(totals, responses, ranking_score)
            ranking = F.cross_entropy(scores[None], torch.zeros(1, dtype=torch.long, device=device))
            # the answer row's token cross-entropies (programs: the plain batches hold them)
            language = (
                -totals[0] / response_tokens if example.language_in_ranked else totals.new_zeros(())
            )
            (language + config.ranking_weight * ranking / len(ranked)).backward()
            step_loss += float(language.detach())
            step_ranking += float(ranking.detach()) / len(ranked)
            tokens += len(prompt_ids) + sum(len(r) for r in responses)
        if ranked:
            ranking_losses.append(step_ranking)
        torch.nn.utils.clip_grad_norm_(trainable, MAX_GRAD_NORM)
        optimizer.step()
        losses.append(step_loss)
        if progress is not None:
            progress(step + 1, steps, step_loss)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - start
    peft_model.eval()
    return TrainingReport(
        trainable_params=sum(p.numel() for p in trainable),
        total_params=sum(p.numel() for p in peft_model.parameters()),
        losses=losses,
        ranking_losses=ranking_losses,
        tokens_per_second=tokens / seconds if seconds > 0 else 0.0,
        seconds=seconds,
        steps=steps,
        examples=len(encoded),
        truncated_examples=sum(e.truncated for e in encoded),
    )
