"""Candidate scoring with one shared prompt prefill, and drawing candidates with cheap knobs."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest
import torch
from model_helpers import GCD_FIX, GCD_PROGRAMS, GCD_TASK, GCD_WRONG

from coral_dagster.domain.genome import CheapKnobs
from coral_dagster.model.base_model import ResolvedBaseModel
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.model.scoring import (
    CandidateScore,
    document_start_id,
    draw_candidates,
    program_ids,
    response_ids,
    score_line_candidates,
    score_program_candidates,
    score_responses,
)

TASK = GCD_TASK
ANSWERS = [GCD_FIX, *GCD_WRONG]


@pytest.fixture(scope="module")
def generator(tiny_base: ResolvedBaseModel, tiny_adapters: dict[str, Path]) -> PatchGenerator:
    patch_generator = PatchGenerator(tiny_base, device="cpu", dtype="float32")
    for name, path in tiny_adapters.items():
        patch_generator.load_adapter(name, path)
    return patch_generator


def _reference(
    generator: PatchGenerator, prompt: list[int], response: list[int], adapter: str | None
) -> float:
    """log p(response | prompt) from one plain forward over the whole sequence (no cache)."""
    ids = torch.tensor([prompt + response])
    with torch.inference_mode():
        logits = generator.model(input_ids=ids, **generator.forward_kwargs([adapter])).logits[0]
    logps = torch.log_softmax(logits.float(), dim=-1)
    return sum(float(logps[len(prompt) - 1 + t, tok]) for t, tok in enumerate(response))


@pytest.mark.parametrize("adapter", [None, "lora_a", "dora"])
def test_scores_equal_a_full_forward_over_prompt_and_answer(
    generator: PatchGenerator, adapter: str | None
) -> None:
    scores = score_line_candidates(generator, TASK, ANSWERS, adapter, batch_size=2)
    prompt, responses = response_ids(generator, TASK, ANSWERS)
    for score, response in zip(scores, responses, strict=True):
        assert isinstance(score, CandidateScore)
        assert score.tokens == len(response)
        assert score.sum_logprob == pytest.approx(
            _reference(generator, prompt, response, adapter), abs=2e-5
        )
        assert score.mean_logprob == pytest.approx(score.sum_logprob / score.tokens)


def test_responses_end_with_the_end_of_turn_token(generator: PatchGenerator) -> None:
    _, responses = response_ids(generator, TASK, ANSWERS)
    for answer, response in zip(ANSWERS, responses, strict=True):
        assert response[-1] in generator.stop_token_ids
        assert generator.tokenizer.decode(response[:-1]) == answer


def test_a_score_is_the_same_alone_and_in_any_batch(generator: PatchGenerator) -> None:
    batched = score_line_candidates(generator, TASK, ANSWERS, "lora_a", batch_size=16)
    pairs = score_line_candidates(generator, TASK, ANSWERS, "lora_a", batch_size=2)
    for k, answer in enumerate(ANSWERS):
        alone = score_line_candidates(generator, TASK, [answer], "lora_a")[0]
        assert alone.sum_logprob == pytest.approx(batched[k].sum_logprob, abs=1e-4)
        assert pairs[k].sum_logprob == pytest.approx(batched[k].sum_logprob, abs=1e-4)
    again = score_line_candidates(generator, TASK, ANSWERS, "lora_a", batch_size=16)
    assert again == batched  # deterministic on CPU


def test_the_prompt_is_encoded_once_for_all_candidates(generator: PatchGenerator) -> None:
    shapes: list[tuple[int, ...]] = []
    embedding = generator.model.get_input_embeddings()
    handle = embedding.register_forward_pre_hook(
        lambda module, args: shapes.append(tuple(args[0].shape))
    )
    try:
        score_line_candidates(generator, TASK, ANSWERS, None, batch_size=2)
    finally:
        handle.remove()
    prompt, responses = response_ids(generator, TASK, ANSWERS)
    assert shapes[0] == (1, len(prompt))
    # then ceil(5 / 2) batches of candidate tokens only (no prompt token re-encoded)
    assert len(shapes) == 1 + 3
    widest = max(len(r) for r in responses) - 1
    assert all(rows <= 2 and width <= widest for rows, width in shapes[1:])


def test_adapters_change_the_scores(generator: PatchGenerator) -> None:
    base = score_line_candidates(generator, TASK, ANSWERS)
    for adapter in ("lora_a", "dora"):
        tuned = score_line_candidates(generator, TASK, ANSWERS, adapter)
        assert all(
            abs(t.sum_logprob - b.sum_logprob) > 1e-3 for t, b in zip(tuned, base, strict=True)
        )


def test_bad_scoring_input_is_named(generator: PatchGenerator) -> None:
    with pytest.raises(KeyError, match="adapter 'nope' is not loaded"):
        score_line_candidates(generator, TASK, ANSWERS, "nope")
    with pytest.raises(ValueError, match=r"responses \[1\] are empty"):
        score_responses(generator, [1, 2], [[3], []])
    assert score_responses(generator, [1, 2], []) == []


# -- whole programs ------------------------------------------------------------------------------


def _program_logprob(generator: PatchGenerator, program: str, adapter: str | None) -> float:
    """log p(program | document start) from one plain forward (no cache, no shared prefix)."""
    ids = program_ids(generator.tokenizer, [program])
    full = ids[0] + ids[1][0]
    return _reference(generator, full[:1], full[1:], adapter)


def test_programs_start_after_the_document_separator(generator: PatchGenerator) -> None:
    """SmolLM2's BOS is the chat-turn opener; a plain-text document follows <|endoftext|>."""
    tokenizer = generator.tokenizer
    assert tokenizer.bos_token == "<|im_start|>"
    assert tokenizer.convert_ids_to_tokens(document_start_id(tokenizer)) == "<|endoftext|>"

    class BosOnly:  # a vocabulary without the separator (Llama-style): its BOS starts documents
        bos_token_id = 7

        def get_vocab(self) -> dict[str, int]:
            return {"<s>": 7, "a": 8}

    assert document_start_id(BosOnly()) == 7
    BosOnly.bos_token_id = None
    with pytest.raises(ValueError, match=r"neither <\|endoftext\|> nor a BOS token"):
        document_start_id(BosOnly())


def test_program_ids_split_after_the_shared_tokens(generator: PatchGenerator) -> None:
    tokenizer = generator.tokenizer
    start = document_start_id(tokenizer)
    prefix, rests = program_ids(tokenizer, GCD_PROGRAMS)
    assert prefix[0] == start and len(prefix) > 1  # "def gcd(a, b):..." is shared
    for program, rest in zip(GCD_PROGRAMS, rests, strict=True):
        assert prefix + rest == [start, *tokenizer(program, add_special_tokens=False).input_ids]
    assert len({r[0] for r in rests}) > 1  # split at the first token that differs
    _, [alone] = program_ids(tokenizer, GCD_PROGRAMS[:1])
    assert len(alone) == 1  # one program keeps one token to score
    head, _ = program_ids(tokenizer, ["x = 1\n", "def f():\n    pass\n"])
    assert head == [start]  # nothing shared but the document start


@pytest.mark.parametrize("adapter", [None, "lora_a"])
def test_program_scores_differ_as_whole_program_likelihoods(
    generator: PatchGenerator, adapter: str | None
) -> None:
    """sum_logprob = log p(y | s) - log p(shared prefix | s): differences between candidates
    are differences of the whole programs' log-likelihoods."""
    scores = score_program_candidates(generator, GCD_PROGRAMS, adapter, batch_size=3)
    whole = [_program_logprob(generator, p, adapter) for p in GCD_PROGRAMS]
    for k in range(1, len(GCD_PROGRAMS)):
        assert scores[k].sum_logprob - scores[0].sum_logprob == pytest.approx(
            whole[k] - whole[0], abs=5e-5
        )
    _, rests = program_ids(generator.tokenizer, GCD_PROGRAMS)
    assert [s.tokens for s in scores] == [len(r) for r in rests]


def test_program_scores_need_programs(generator: PatchGenerator) -> None:
    with pytest.raises(ValueError, match="no programs"):
        score_program_candidates(generator, [])
    with pytest.raises(ValueError, match=r"programs \[1\] are empty"):
        score_program_candidates(generator, ["x = 1\n", ""])


# -- drawing ------------------------------------------------------------------------------------


def knobs(temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0, sample: bool = True):
    return CheapKnobs(temperature, top_p, top_k, 1.0, 1, sample)


def test_greedy_repeats_the_best_candidate() -> None:
    assert draw_candidates([-3.0, -1.0, -1.0, -2.0], knobs(sample=False), 4, seed=9) == [1] * 4


def test_draws_are_seeded() -> None:
    scores = [-1.0, -1.2, -2.0, -0.5]
    first = draw_candidates(scores, knobs(), 50, seed=3)
    assert first == draw_candidates(scores, knobs(), 50, seed=3)
    assert first != draw_candidates(scores, knobs(), 50, seed=4)


def test_draws_follow_softmax_of_scores_over_temperature() -> None:
    scores = [0.0, math.log(3.0)]  # p = (1/4, 3/4) at T = 1; (1/10, 9/10) at T = 0.5
    for temperature, expected in ((1.0, 0.75), (0.5, 0.9)):
        counts = Counter(draw_candidates(scores, knobs(temperature), 20_000, seed=1))
        assert counts[1] / 20_000 == pytest.approx(expected, abs=0.015)


def test_top_k_and_top_p_cut_the_tail() -> None:
    scores = [math.log(0.5), math.log(0.3), math.log(0.2)]
    assert set(draw_candidates(scores, knobs(top_k=2), 2000, seed=0)) == {0, 1}
    assert set(draw_candidates(scores, knobs(top_k=1), 100, seed=0)) == {0}
    # mass before candidate 1 is 0.5 < 0.6: kept; before candidate 2 it is 0.8 >= 0.6: dropped
    assert set(draw_candidates(scores, knobs(top_p=0.6), 2000, seed=0)) == {0, 1}
    assert set(draw_candidates(scores, knobs(top_p=0.5), 100, seed=0)) == {0}


def test_distinct_draws_never_repeat_and_follow_the_ranking() -> None:
    scores = [-2.0, -0.5, -1.0, -3.0]
    assert draw_candidates(scores, knobs(sample=False), 3, seed=0, distinct=True) == [1, 2, 0]
    drawn = draw_candidates(scores, knobs(), 10, seed=5, distinct=True)
    assert len(drawn) == 10
    assert sorted(drawn[:4]) == [0, 1, 2, 3]  # the whole pool, each once ...
    assert drawn[4:8] == drawn[:4] and drawn[8:] == drawn[:2]  # ... then round it again
    assert drawn == draw_candidates(scores, knobs(), 10, seed=5, distinct=True)
    narrow = draw_candidates(scores, knobs(top_k=2), 5, seed=5, distinct=True)
    assert narrow in ([1, 2, 1, 2, 1], [2, 1, 2, 1, 2])
    greedy = draw_candidates(scores, knobs(sample=False), 6, seed=0, distinct=True)
    assert greedy == [1, 2, 0, 3, 1, 2]
    # greedy or not, the knobs' pool is the same: top_k and the nucleus narrow it
    assert draw_candidates(scores, knobs(top_k=2, sample=False), 5, 0, distinct=True) == [
        1,
        2,
        1,
        2,
        1,
    ]
    peaked = [0.0, -5.0, -6.0]  # p ~ (0.99, 0.007, 0.002): the nucleus of 0.9 is candidate 0
    assert draw_candidates(peaked, knobs(top_p=0.9, sample=False), 3, 0, distinct=True) == [0] * 3
    assert draw_candidates(peaked, knobs(top_p=0.9), 3, 0, distinct=True) == [0] * 3
    # the first distinct draw is distributed as one ordinary draw: p = (1/4, 3/4)
    two = [0.0, math.log(3.0)]
    firsts = Counter(
        draw_candidates(two, knobs(), 2, seed=s, distinct=True)[0] for s in range(8000)
    )
    assert firsts[1] / 8000 == pytest.approx(0.75, abs=0.02)


def test_bad_draws_are_refused() -> None:
    with pytest.raises(ValueError, match="no candidates"):
        draw_candidates([], knobs(), 1, seed=0)
    with pytest.raises(ValueError, match="scores must be finite"):
        draw_candidates([0.0, float("-inf")], knobs(), 1, seed=0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        draw_candidates([0.0], knobs(temperature=0.0), 1, seed=0)
