"""Batched mixed-adapter generation on tiny-random: reproducibility, batch independence, knobs."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from model_helpers import EVAL_PROBLEMS

from coral_dagster.domain.genome import CheapKnobs
from coral_dagster.model.base_model import ResolvedBaseModel
from coral_dagster.model.generation import (
    GenerationOutput,
    GenerationRequest,
    PatchGenerator,
    next_tokens,
    plan_batches,
)
from coral_dagster.model.prompts import encode_prompt

GREEDY = CheapKnobs(
    temperature=1.0,
    top_p=1.0,
    top_k=0,
    repetition_penalty=1.3,
    max_new_tokens=10,
    do_sample=False,
)
SAMPLED = CheapKnobs(
    temperature=0.9,
    top_p=0.95,
    top_k=40,
    repetition_penalty=1.1,
    max_new_tokens=12,
    do_sample=True,
)
HOT = replace(SAMPLED, temperature=1.3, top_k=0, top_p=1.0, max_new_tokens=8)


@pytest.fixture(scope="module")
def generator(tiny_base: ResolvedBaseModel, tiny_adapters: dict[str, Path]) -> PatchGenerator:
    patch_generator = PatchGenerator(tiny_base, device="cpu", dtype="float32")
    for name, path in tiny_adapters.items():
        patch_generator.load_adapter(name, path)
    return patch_generator


def _requests(adapters: list[str | None], knobs: list[CheapKnobs]) -> list[GenerationRequest]:
    """Every (problem, adapter, knobs) combination, each with its own seed."""
    requests = []
    for p, (name, source) in enumerate(EVAL_PROBLEMS):
        for a, adapter in enumerate(adapters):
            for k, knob in enumerate(knobs):
                requests.append(
                    GenerationRequest(
                        request_id=f"{name}/{adapter}/{k}",
                        adapter_name=adapter,
                        knobs=knob,
                        problem_name=name,
                        buggy_source=source,
                        seed=1000 * p + 10 * a + k,
                    )
                )
    return requests


ALL_ADAPTERS: list[str | None] = [None, "lora_a", "lora_b", "dora"]


def test_outputs_come_back_in_request_order(generator: PatchGenerator) -> None:
    requests = _requests(ALL_ADAPTERS, [GREEDY, SAMPLED])
    outputs = generator.generate(requests, batch_size=5)
    assert [o.request_id for o in outputs] == [r.request_id for r in requests]
    for request, output in zip(requests, outputs, strict=True):
        assert isinstance(output, GenerationOutput)
        assert output.problem_name == request.problem_name
        assert output.prompt_tokens == len(
            encode_prompt(generator.tokenizer, request.problem_name, request.buggy_source)
        )
        assert 1 <= output.new_tokens <= request.knobs.max_new_tokens
        assert output.seconds > 0
        assert output.to_dict()["raw_text"] == output.raw_text


def test_a_request_gives_the_same_text_alone_and_in_a_mixed_batch(
    generator: PatchGenerator,
) -> None:
    """Left padding, per-row positions, per-row generators: neighbours do not leak into a row
    (exactly, on CPU in float32)."""
    requests = _requests(ALL_ADAPTERS, [GREEDY, SAMPLED])
    batched = generator.generate(requests, batch_size=8)
    alone = [generator.generate([r], batch_size=1)[0] for r in requests]
    assert [o.raw_text for o in batched] == [o.raw_text for o in alone]
    again = generator.generate(requests, batch_size=8)
    assert [o.raw_text for o in again] == [o.raw_text for o in batched]


def test_mixed_adapter_batches_match_one_adapter_generators(
    tiny_base: ResolvedBaseModel, tiny_adapters: dict[str, Path], generator: PatchGenerator
) -> None:
    requests = _requests(ALL_ADAPTERS, [GREEDY, SAMPLED])
    mixed = {o.request_id: o.raw_text for o in generator.generate(requests, batch_size=8)}
    for adapter in ("lora_a", "dora"):
        single = PatchGenerator(tiny_base, device="cpu", dtype="float32")
        single.load_adapter(adapter, tiny_adapters[adapter])
        own = [r for r in requests if r.adapter_name == adapter]
        for output in single.generate(own, batch_size=4):
            assert output.raw_text == mixed[output.request_id], output.request_id
    bare = PatchGenerator(tiny_base, device="cpu", dtype="float32")
    base_rows = [r for r in requests if r.adapter_name is None]
    for output in bare.generate(base_rows, batch_size=4):
        assert output.raw_text == mixed[output.request_id], output.request_id
    # The adapters are really applied: each changes some output of the base model.
    for adapter in ("lora_a", "lora_b", "dora"):
        changed = [
            mixed[r.request_id] != mixed[r.request_id.replace(f"/{adapter}/", "/None/")]
            for r in requests
            if r.adapter_name == adapter
        ]
        assert any(changed), adapter


def test_greedy_matches_transformers_generate(generator: PatchGenerator) -> None:
    """Our KV-cache loop (mixed-batch adapter path) == HF generate with the adapter active."""
    for name, source in EVAL_PROBLEMS[:2]:
        ids = torch.tensor([encode_prompt(generator.tokenizer, name, source)])
        generator.model.set_adapter("lora_b")
        expected = generator.model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=GREEDY.max_new_tokens,
            do_sample=False,
            repetition_penalty=GREEDY.repetition_penalty,
            pad_token_id=generator.tokenizer.pad_token_id,
        )[0, ids.shape[1] :]
        expected_text = generator.tokenizer.decode(expected, skip_special_tokens=True)
        assert len(set(expected.tolist())) > 3  # a non-degenerate continuation
        request = GenerationRequest("r", "lora_b", GREEDY, name, source, seed=5)
        assert generator.generate([request])[0].raw_text == expected_text


def test_greedy_ignores_the_seed_and_sampling_follows_it(generator: PatchGenerator) -> None:
    name, source = EVAL_PROBLEMS[0]

    def text(knobs: CheapKnobs, seed: int) -> str:
        request = GenerationRequest("r", "lora_a", knobs, name, source, seed)
        return generator.generate([request])[0].raw_text

    assert text(GREEDY, 1) == text(GREEDY, 2)
    assert text(HOT, 1) == text(HOT, 1)
    assert len({text(HOT, seed) for seed in range(4)}) > 1


def test_rows_stop_at_their_own_limits(generator: PatchGenerator) -> None:
    name, source = EVAL_PROBLEMS[1]
    limits = [1, 4, 9, 16]
    requests = [
        GenerationRequest(f"r{n}", None, replace(HOT, max_new_tokens=n), name, source, seed=n)
        for n in limits
    ]
    outputs = generator.generate(requests, batch_size=4)
    assert [o.new_tokens for o in outputs] == limits  # the tiny model never says <|im_end|>


def test_rows_stop_independently_at_a_stop_token(
    tiny_base: ResolvedBaseModel, generator: PatchGenerator
) -> None:
    """A row that emits a stop token ends; its batch-mates carry on to their own limits."""
    name, source = EVAL_PROBLEMS[2]
    greedy = GenerationRequest("greedy", None, GREEDY, name, source, seed=0)
    first_token = generator.tokenizer.encode(
        generator.generate([replace(greedy, knobs=replace(GREEDY, max_new_tokens=1))])[0].raw_text,
        add_special_tokens=False,
    )
    assert len(first_token) == 1
    stopper = PatchGenerator(tiny_base, device="cpu", dtype="float32")
    stopper.stop_token_ids = frozenset({first_token[0]})
    hot = GenerationRequest("hot", None, HOT, name, source, seed=3)
    outputs = {o.request_id: o for o in stopper.generate([greedy, hot], batch_size=2)}
    assert outputs["greedy"].new_tokens == 1
    assert outputs["hot"].new_tokens == HOT.max_new_tokens


def test_unknown_adapter_bad_knobs_and_duplicate_ids_are_named(
    generator: PatchGenerator, tmp_path: Path
) -> None:
    name, source = EVAL_PROBLEMS[0]
    request = GenerationRequest("r1", "ghost", GREEDY, name, source, seed=0)
    with pytest.raises(KeyError, match="'r1': adapter 'ghost' is not loaded"):
        generator.generate([request])
    cold = replace(request, adapter_name=None, knobs=replace(SAMPLED, temperature=0.0))
    with pytest.raises(ValueError, match="'r1': knob temperature must be > 0"):
        generator.generate([cold])
    with pytest.raises(ValueError, match=r"duplicate generation request ids: \['r1'\]"):
        generator.generate([replace(request, adapter_name=None)] * 2)
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        generator.load_adapter("missing", tmp_path)
    with pytest.raises(ValueError, match="already loaded"):
        generator.load_adapter("lora_a", tmp_path)
    with pytest.raises(ValueError, match="reserved"):
        generator.load_adapter("__base__", tmp_path)
    with pytest.raises(ValueError, match=r"contains '\.'"):
        generator.load_adapter("v1.2", tmp_path)


def test_unloading_adapters_restores_the_bare_model(
    tiny_base: ResolvedBaseModel, tiny_adapters: dict[str, Path]
) -> None:
    name, source = EVAL_PROBLEMS[0]
    bare_row = GenerationRequest("bare", None, GREEDY, name, source, seed=0)
    lora_row = replace(bare_row, request_id="lora", adapter_name="lora_b")
    patch_generator = PatchGenerator(tiny_base, device="cpu", dtype="float32")
    bare_text = patch_generator.generate([bare_row])[0].raw_text
    patch_generator.load_adapter("lora_b", tiny_adapters["lora_b"])
    patch_generator.load_adapter("dora", tiny_adapters["dora"])
    lora_text = patch_generator.generate([lora_row])[0].raw_text
    assert lora_text != bare_text
    patch_generator.unload_adapter("dora")
    assert patch_generator.adapter_names == ("lora_b",)
    assert [o.raw_text for o in patch_generator.generate([bare_row, lora_row])] == [
        bare_text,
        lora_text,
    ]
    patch_generator.unload_adapter("lora_b")
    assert patch_generator.adapter_names == ()
    assert patch_generator.generate([bare_row])[0].raw_text == bare_text
    with pytest.raises(KeyError, match="'lora_b' is not loaded"):
        patch_generator.unload_adapter("lora_b")
    patch_generator.load_adapter("lora_b", tiny_adapters["lora_b"])
    assert patch_generator.generate([lora_row])[0].raw_text == lora_text


def test_plan_batches_keeps_dora_adapters_apart() -> None:
    names = [None, "a", "d1", "b", "d1", "d2", None, "a", "d2", "d1"]
    lengths = [5, 3, 9, 1, 2, 8, 7, 6, 4, 0]
    batches = plan_batches(names, {"d1", "d2"}, lengths, batch_size=3)
    assert sorted(i for batch in batches for i in batch) == list(range(len(names)))
    for batch in batches:
        assert len(batch) <= 3
        kinds = {names[i] if names[i] in ("d1", "d2") else "mixed" for i in batch}
        assert len(kinds) == 1
        assert [lengths[i] for i in batch] == sorted(lengths[i] for i in batch)


def _knobs(**changes: object) -> CheapKnobs:
    return replace(SAMPLED, repetition_penalty=1.0, **changes)


def test_next_tokens_sampling_follows_the_distribution() -> None:
    probs = torch.tensor([0.5, 0.3, 0.2, 0.0])
    logits = torch.log(probs.clamp(min=1e-12))[None, :]
    seen = torch.zeros_like(logits, dtype=torch.bool)
    knobs = [_knobs(temperature=1.0, top_k=0, top_p=1.0)]
    generator = torch.Generator().manual_seed(0)
    counts = Counter(int(next_tokens(logits, seen, knobs, [generator])[0]) for _ in range(3000))
    assert counts[3] == 0
    for token, p in enumerate(probs.tolist()[:3]):
        assert abs(counts[token] / 3000 - p) < 0.04


def test_next_tokens_top_k_top_p_and_repetition_penalty() -> None:
    logits = torch.tensor([[2.0, 1.9, 1.8, 1.7, -1.0]])
    seen = torch.zeros_like(logits, dtype=torch.bool)

    def draws(knobs: CheapKnobs, seen: torch.Tensor = seen) -> set[int]:
        generator = torch.Generator().manual_seed(1)
        return {int(next_tokens(logits, seen, [knobs], [generator])[0]) for _ in range(300)}

    assert draws(_knobs(top_k=2, top_p=1.0, temperature=1.0)) == {0, 1}
    assert draws(_knobs(top_k=0, top_p=0.3, temperature=1.0)) == {0, 1}  # 0.29 + 0.26 > 0.3
    assert draws(_knobs(top_k=0, top_p=0.01, temperature=1.0)) == {0}
    assert draws(_knobs(top_k=1, top_p=1.0, temperature=5.0)) == {0}
    penalised = seen.clone()
    penalised[0, 0] = True
    greedy = replace(GREEDY, repetition_penalty=1.5)
    assert int(next_tokens(logits, seen, [greedy], [torch.Generator()])[0]) == 0
    assert int(next_tokens(logits, penalised, [greedy], [torch.Generator()])[0]) == 1


def test_next_tokens_rows_use_only_their_own_generator() -> None:
    logits = torch.zeros((3, 50))
    seen = torch.zeros_like(logits, dtype=torch.bool)
    knobs = [_knobs(top_k=0, top_p=1.0, temperature=1.0)] * 3

    def sample(seeds: list[int]) -> list[int]:
        generators = [torch.Generator().manual_seed(s) for s in seeds]
        return [next_tokens(logits, seen, knobs, generators).tolist() for _ in range(5)]

    rows_a = sample([1, 2, 3])
    rows_b = sample([1, 7, 3])
    assert [r[0] for r in rows_a] == [r[0] for r in rows_b]
    assert [r[2] for r in rows_a] == [r[2] for r in rows_b]
    assert [r[1] for r in rows_a] != [r[1] for r in rows_b]
