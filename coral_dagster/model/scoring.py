"""Rank candidate answers by the model, and draw answers from that ranking with cheap knobs.

Scoring (``score_responses``, ``score_line_candidates``): the score of a candidate response
``r = (r_1, ..., r_m)`` to a prompt ``x`` is its log-likelihood as the assistant turn,

    sum_logprob  = sum_t log p(r_t | x, r_<t),      mean_logprob = sum_logprob / m,

with the response ids exactly as training encodes them (``prompts.encode_line_training_example``)
cut after the first end-of-turn token (``base_model.cut_after_stop``), so ``r`` is "this answer,
then stop". The likelihoods come from ``model.likelihood`` (the one implementation the ranking
loss trains on): the prompt is prefilled ONCE per (prompt, adapter), and the candidates are
scored in batches of ``batch_size`` over the expanded cache. Rows are batched by length (less
padding); results come back in input order. Adapters are selected as in ``PatchGenerator``
(``adapter_name=None``: the bare base model; a DoRA adapter is activated, LoRA/base rows go
through PEFT's ``adapter_names``). CPU results are deterministic for a given batch; a
candidate's score alone and inside a batch agree to float rounding.

Whole programs (``program_ids``, ``score_program_candidates``; ``patch.candidate_score:
program``): each candidate program ``y`` is scored as plain text, no prompt, as how natural the
model finds it (the "naturalness" of code: a buggy line makes the lines around it less likely).
The programs are tokenized alone after one document-start token ``s`` (``document_start_id``:
``<|endoftext|>``, the document separator of GPT-2-style vocabularies such as SmolLM2's, when
the vocabulary has it; otherwise the BOS token) and split after the longest token prefix ``c``
they all share (at least ``s``, at most all but one token of the shortest); with ``y = c + y'``,

    sum_logprob = log p(y' | c) = log p(y | s) - log p(c | s),

the same offset for every candidate of one problem: ranking and drawing (softmax, so
offset-free) depend on ``log p(y | s)`` only. ``mean_logprob`` is ``sum_logprob / |y'|``.

Drawing (``draw_candidates``): see its docstring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from coral_dagster.domain.genome import CheapKnobs
from coral_dagster.model.base_model import cut_after_stop
from coral_dagster.model.generation import PatchGenerator, validate_knobs
from coral_dagster.model.likelihood import continuation_logprobs, prefill
from coral_dagster.model.prompts import (
    LineTask,
    encode_line_prompt,
    encode_line_training_example,
)

__all__ = [
    "CandidateScore",
    "draw_candidates",
    "program_ids",
    "response_ids",
    "score_line_candidates",
    "score_program_candidates",
    "score_responses",
]


@dataclass(frozen=True)
class CandidateScore:
    """Log-likelihood of one candidate response (natural log): total and per token."""

    sum_logprob: float
    mean_logprob: float
    tokens: int


def response_ids(
    generator: PatchGenerator, task: LineTask, answers: Sequence[str]
) -> tuple[list[int], list[list[int]]]:
    """(prompt ids, response ids per answer) of ``task``: training's encoding, each response
    cut after its first end-of-turn token."""
    prompt = encode_line_prompt(generator.tokenizer, task)
    responses = []
    for answer in answers:
        ids_prompt, ids = encode_line_training_example(generator.tokenizer, task, answer)
        if ids_prompt != prompt:  # the template guarantees it; fail loudly if it ever does not
            raise AssertionError(f"line task {task.function_name!r}: prompt ids differ")
        responses.append(cut_after_stop(ids, generator.stop_token_ids))
    return prompt, responses


def _check_adapter(generator: PatchGenerator, adapter_name: str | None) -> None:
    if adapter_name is not None and adapter_name not in generator.adapter_names:
        raise KeyError(
            f"scoring: adapter {adapter_name!r} is not loaded "
            f"(loaded: {list(generator.adapter_names)})"
        )


@torch.inference_mode()
def score_responses(
    generator: PatchGenerator,
    prompt_ids: Sequence[int],
    responses: Sequence[Sequence[int]],
    adapter_name: str | None = None,
    batch_size: int = 16,
) -> list[CandidateScore]:
    """Score every response to one prompt with one prompt prefill (see the module doc)."""
    if not prompt_ids:
        raise ValueError("scoring: empty prompt")
    empty = [k for k, r in enumerate(responses) if not r]
    if empty:
        raise ValueError(f"scoring: responses {empty} are empty")
    if batch_size < 1:
        raise ValueError(f"scoring: batch_size must be >= 1, got {batch_size}")
    _check_adapter(generator, adapter_name)
    if not responses:
        return []
    adapter_kwargs = generator.forward_kwargs([adapter_name])
    prefix = prefill(generator.model, prompt_ids, **adapter_kwargs)
    first_logp = prefix[0]
    order = sorted(range(len(responses)), key=lambda k: (len(responses[k]), k))
    scores: list[CandidateScore | None] = [None] * len(responses)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        rows = [responses[k] for k in chunk]
        rest = continuation_logprobs(
            generator.model,
            prefix,
            rows,
            generator.tokenizer.pad_token_id,
            **generator.forward_kwargs([adapter_name] * len(rows)),
        )
        for row, k in enumerate(chunk):
            length = len(responses[k])
            total = float(first_logp[responses[k][0]]) + sum(rest[row, : length - 1].tolist())
            scores[k] = CandidateScore(total, total / length, length)
    return [s for s in scores if s is not None]


def score_line_candidates(
    generator: PatchGenerator,
    task: LineTask,
    answers: Sequence[str],
    adapter_name: str | None = None,
    batch_size: int = 16,
) -> list[CandidateScore]:
    """Score ``line`` answers (``prompts.line_response_text`` texts) to ``task``."""
    prompt, responses = response_ids(generator, task, answers)
    return score_responses(generator, prompt, responses, adapter_name, batch_size)


DOCUMENT_SEPARATOR = "<|endoftext|>"


def document_start_id(tokenizer) -> int:
    """The token a plain-text document starts after: ``<|endoftext|>`` when the vocabulary has
    it (between pretraining documents; an instruct tokenizer's BOS may be a chat-turn opener,
    as SmolLM2's ``<|im_start|>`` is), otherwise BOS."""
    vocabulary = tokenizer.get_vocab()
    if DOCUMENT_SEPARATOR in vocabulary:
        return vocabulary[DOCUMENT_SEPARATOR]
    if tokenizer.bos_token_id is None:
        raise ValueError(
            f"program scores: the tokenizer has neither {DOCUMENT_SEPARATOR} nor a BOS token "
            "to start a document with"
        )
    return tokenizer.bos_token_id


def program_ids(tokenizer, programs: Sequence[str]) -> tuple[list[int], list[list[int]]]:
    """(shared prefix ids ``c``, the rest ``y'`` of each program's ids) for program scores (see
    the module doc): every rest holds at least one token. ``ValueError`` for no programs or an
    empty one."""
    if not programs:
        raise ValueError("program scores: no programs")
    empty = [k for k, p in enumerate(programs) if not p]
    if empty:
        raise ValueError(f"program scores: programs {empty} are empty")
    start = document_start_id(tokenizer)
    ids = [[start, *tokenizer(p, add_special_tokens=False)["input_ids"]] for p in programs]
    shared = min(len(i) for i in ids) - 1  # >= 1: every program has a token after the start
    for other in ids[1:]:
        shared = next((k for k in range(shared) if other[k] != ids[0][k]), shared)
    return ids[0][:shared], [i[shared:] for i in ids]


def score_program_candidates(
    generator: PatchGenerator,
    programs: Sequence[str],
    adapter_name: str | None = None,
    batch_size: int = 16,
) -> list[CandidateScore]:
    """Score whole candidate programs as plain text (``patch.candidate_score: program``)."""
    prefix, rests = program_ids(generator.tokenizer, programs)
    return score_responses(generator, prefix, rests, adapter_name, batch_size)


def rank_candidates(scores: Sequence[float]) -> list[int]:
    """Candidate indices best first: score descending, ties by lower index (the order
    ``draw_candidates`` ranks in, and greedy's first choice)."""
    return sorted(range(len(scores)), key=lambda i: (-scores[i], i))


def draw_candidates(
    scores: Sequence[float], knobs: CheapKnobs, n: int, seed: int, distinct: bool = False
) -> list[int]:
    """``n`` candidate indices drawn from ``scores`` (log-likelihoods, higher is better) with
    a genome's cheap knobs.

    Ranking: with ``T = temperature``, ``z_i = s_i / T``; candidates ranked by ``z``
    descending, ties by lower index. The pool is the ``top_k`` best (``top_k = 0``: all); over
    it ``p_i = exp(z_i) / sum_pool exp(z_j)``; nucleus: drop every candidate whose better-ranked
    candidates already hold mass >= ``top_p``, then renormalise.

    - ``do_sample`` False (greedy): the best candidate ``n`` times; with ``distinct``, the
      pool's candidates in ranking order.
    - sampling: ``n`` i.i.d. draws from ``p`` (with replacement, as ``n`` sampled generations
      would be) by ``numpy.random.default_rng(seed).choice``; with ``distinct``, draws
      *without* replacement by the Gumbel-top-k trick: the pool's candidates ordered by
      ``log p_i + g_i`` descending, ``g_i ~ Gumbel(0, 1)`` from ``default_rng(seed)`` (each
      next draw is proportional to ``p`` over the candidates not drawn yet).

    With ``distinct``, when the pool (the candidates with ``p > 0`` after ``top_k`` and the
    nucleus, greedy or not) holds fewer than ``n`` candidates, the draws go round it again in
    the same order, so ``n`` indices always come back: knobs that narrow the pool spend the
    budget on repeats. ``repetition_penalty`` and ``max_new_tokens`` play no part in choosing
    among whole candidates. Raises ``ValueError`` for no candidates, ``n < 0``, a non-finite
    score or knobs that decoding would reject.
    """
    if not scores:
        raise ValueError("draw_candidates: no candidates")
    if n < 0:
        raise ValueError(f"draw_candidates: n must be >= 0, got {n}")
    values = np.asarray(scores, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("draw_candidates: scores must be finite")
    validate_knobs("draw_candidates", knobs)
    if not knobs.do_sample and not distinct:
        return [int(np.argmax(values))] * n
    z = values / knobs.temperature
    ranked = rank_candidates(z)
    if 0 < knobs.top_k < len(ranked):
        ranked = ranked[: knobs.top_k]
    kept = np.array([z[i] for i in ranked])
    probs = np.exp(kept - kept.max())
    probs /= probs.sum()
    mass_before = np.cumsum(probs) - probs
    keep = mass_before < knobs.top_p
    probs = np.where(keep, probs, 0.0)
    probs /= probs.sum()
    if not knobs.do_sample:  # distinct greedy: the pool in ranking order
        return _cycled([ranked[int(i)] for i in np.flatnonzero(probs > 0)], n)
    rng = np.random.default_rng(seed)
    if distinct:
        pool = np.flatnonzero(probs > 0)
        keys = np.log(probs[pool]) + rng.gumbel(size=len(pool))
        order = pool[np.argsort(-keys, kind="stable")]
        return _cycled([ranked[int(i)] for i in order], n)
    draws = rng.choice(len(ranked), size=n, p=probs)
    return [ranked[int(d)] for d in draws]


def _cycled(order: list[int], n: int) -> list[int]:
    """The first ``n`` of ``order`` repeated end to end (``order`` is never empty here)."""
    return [order[i % len(order)] for i in range(n)]
