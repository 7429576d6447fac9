"""Batched patch generation: several adapters and different decoding knobs in one batch.

HF ``generate()`` takes one generation config and one global RNG per call, so this module has its
own small decoding loop (nanoGPT style) over a KV cache:

1. Prompts (``prompts.encode_prompt``) are left-padded to the batch's longest; the attention
   mask hides the padding and position ids count real tokens only (``cumsum(mask) - 1``), so a
   row's positions do not depend on its neighbours.
2. One prefill forward, then one forward per new token. Each step picks every row's next token
   with that row's own knobs (``next_tokens``): repetition penalty over prompt + generated tokens
   (``l / p`` for ``l > 0``, ``l * p`` otherwise), then greedy argmax, or temperature, top-k,
   top-p and inverse-CDF sampling with one uniform from the row's ``torch.Generator`` (a CPU
   generator seeded with the request's ``seed``, so the draw sequence never depends on the
   device or on the other rows).
3. A row stops at an end-of-turn token or at its own ``max_new_tokens``; finished rows are
   dropped from the batch and the cache (``batch_select_indices``), the rest continue.

Adapters: rows name an adapter loaded with ``load_adapter`` (or ``None`` for the bare base
model, sent to PEFT as ``"__base__"``). Plain LoRA rows and base rows share batches through
PEFT's mixed-adapter batches (``adapter_names=[...]`` on the forward call). PEFT 0.21 refuses
``adapter_names`` for DoRA adapters ("Cannot pass `adapter_names` when DoRA is enabled"), so
rows of a DoRA adapter are batched only with rows of the same adapter, run with that adapter
active. Within a group rows are ordered by prompt length (less padding).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from peft import PeftModel
from transformers import DynamicCache

from coral_dagster.domain.genome import CheapKnobs
from coral_dagster.model.base_model import (
    ResolvedBaseModel,
    load_model_and_tokenizer,
    stop_token_ids,
)
from coral_dagster.model.extraction import extract_program
from coral_dagster.model.prompts import LineTask, encode_line_prompt, encode_prompt

__all__ = [
    "BASE_ADAPTER",
    "GenerationOutput",
    "GenerationRequest",
    "LineOutput",
    "LineRequest",
    "PatchGenerator",
    "next_tokens",
    "plan_batches",
    "validate_knobs",
]

BASE_ADAPTER = "__base__"
MAX_SEED = 2**63 - 1

ProgressCallback = Callable[[int, int], None]


@dataclass(frozen=True)
class GenerationRequest:
    """Generate one patch for ``problem_name`` with an adapter (``None``: the bare base model)
    and the genome's knobs; ``seed`` seeds this row's sampler."""

    request_id: str
    adapter_name: str | None
    knobs: CheapKnobs
    problem_name: str
    buggy_source: str
    seed: int


@dataclass
class GenerationOutput:
    """One request's result. ``program`` is ``extract_program(raw_text, problem_name)`` (``None``
    when the output holds no program defining the function); ``new_tokens`` counts generated
    tokens including a final end-of-turn token; ``seconds`` is the wall time of the batch the
    request ran in (shared by the rows of that batch)."""

    request_id: str
    problem_name: str
    raw_text: str
    program: str | None
    prompt_tokens: int
    new_tokens: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class LineRequest:
    """Generate one ``line``-format answer to ``task`` (``prompts.LineTask``) with an adapter
    (``None``: the bare base model) and knobs; ``seed`` seeds this row's sampler."""

    request_id: str
    adapter_name: str | None
    knobs: CheapKnobs
    task: LineTask
    seed: int


@dataclass
class LineOutput:
    """One ``LineRequest``'s raw answer (parse it with ``benchmark.patches``); counts and
    seconds as in ``GenerationOutput``."""

    request_id: str
    problem_name: str
    raw_text: str
    prompt_tokens: int
    new_tokens: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_knobs(request_id: str, knobs: CheapKnobs) -> None:
    """Raise ``ValueError`` naming the request and knob when decoding cannot honour it."""
    problems = []
    if knobs.max_new_tokens < 1:
        problems.append(f"max_new_tokens must be >= 1, got {knobs.max_new_tokens}")
    if knobs.repetition_penalty <= 0:
        problems.append(f"repetition_penalty must be > 0, got {knobs.repetition_penalty}")
    if knobs.do_sample:
        if knobs.temperature <= 0:
            problems.append(f"temperature must be > 0 when sampling, got {knobs.temperature}")
        if not 0 < knobs.top_p <= 1:
            problems.append(f"top_p must be in (0, 1], got {knobs.top_p}")
        if knobs.top_k < 0:
            problems.append(f"top_k must be >= 0 (0 = off), got {knobs.top_k}")
    if problems:
        raise ValueError(f"generation request {request_id!r}: knob " + "; knob ".join(problems))


def plan_batches(
    adapter_names: Sequence[str | None],
    dora_adapters: set[str],
    prompt_lengths: Sequence[int],
    batch_size: int,
) -> list[list[int]]:
    """Group request indices into batches: base + LoRA rows together, each DoRA adapter's rows
    apart; within a group, stable-sorted by prompt length, then cut into ``batch_size`` chunks."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    groups: dict[str, list[int]] = {}
    for index, name in enumerate(adapter_names):
        key = f"dora:{name}" if name in dora_adapters else "mixed"
        groups.setdefault(key, []).append(index)
    batches = []
    for key in sorted(groups):
        ordered = sorted(groups[key], key=lambda i: prompt_lengths[i])
        batches.extend(ordered[k : k + batch_size] for k in range(0, len(ordered), batch_size))
    return batches


def next_tokens(
    logits: torch.Tensor,
    seen: torch.Tensor,
    knobs: Sequence[CheapKnobs],
    generators: Sequence[torch.Generator],
) -> torch.Tensor:
    """Next token per row from last-position ``logits`` [rows, vocab].

    ``seen`` [rows, vocab] marks tokens already in the row (prompt + generated) for the
    repetition penalty. Sampling rows draw exactly one uniform u from their generator per call.
    """
    device = logits.device
    logits = logits.float()
    vocab = logits.shape[-1]
    penalty = torch.tensor([k.repetition_penalty for k in knobs], device=device)[:, None]
    penalized = torch.where(logits > 0, logits / penalty, logits * penalty)
    logits = torch.where(seen, penalized, logits)
    greedy = logits.argmax(dim=-1)
    sample_rows = torch.tensor([k.do_sample for k in knobs], device=device)
    if not bool(sample_rows.any()):
        return greedy

    temperature = torch.tensor(
        [k.temperature if k.do_sample else 1.0 for k in knobs], device=device
    )
    # Greedy rows take part in the vectorised draw with top_k 1; their draw is discarded.
    top_k = torch.tensor(
        [(k.top_k if 0 < k.top_k < vocab else vocab) if k.do_sample else 1 for k in knobs],
        device=device,
    )
    top_p = torch.tensor([k.top_p if k.do_sample else 1.0 for k in knobs], device=device)
    scaled = logits / temperature[:, None]
    # Only the best max(top_k) tokens can be drawn; a full (stable) sort when a row has no top_k.
    width = int(top_k.max())
    if width < vocab:
        sorted_logits, sorted_ids = scaled.topk(width, dim=-1, sorted=True)
    else:
        sorted_logits, sorted_ids = scaled.sort(dim=-1, descending=True, stable=True)
    rank = torch.arange(width, device=device)[None, :]
    removed = rank >= top_k[:, None]
    probs = torch.softmax(sorted_logits.masked_fill(removed, float("-inf")), dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # probability of strictly better-ranked tokens
    removed |= mass_before >= top_p[:, None]  # nucleus: keep until top_p is reached
    probs = torch.softmax(sorted_logits.masked_fill(removed, float("-inf")), dim=-1)
    cdf = probs.double().cumsum(dim=-1)
    uniforms = torch.tensor(
        [
            float(torch.rand((), generator=g, dtype=torch.float64)) if k.do_sample else 0.0
            for k, g in zip(knobs, generators, strict=True)
        ],
        dtype=torch.float64,
        device=device,
    )
    choice = torch.searchsorted(cdf, (uniforms * cdf[:, -1])[:, None]).clamp(max=width - 1)
    sampled = sorted_ids.gather(-1, choice)[:, 0]
    return torch.where(sample_rows, sampled, greedy)


class PatchGenerator:
    """Holds one base model (loaded once) and any number of named PEFT adapters on it."""

    def __init__(self, base: ResolvedBaseModel, device: str = "auto", dtype: str = "auto"):
        self.base = base
        self.model, self.tokenizer = load_model_and_tokenizer(base, device=device, dtype=dtype)
        self.device = next(self.model.parameters()).device
        self.config = self.model.config
        self.stop_token_ids = stop_token_ids(self.model, self.tokenizer)
        self._adapter_dirs: dict[str, Path] = {}
        self._dora_adapters: set[str] = set()

    @property
    def adapter_names(self) -> tuple[str, ...]:
        return tuple(self._adapter_dirs)

    def load_adapter(self, name: str, adapter_dir: Path) -> None:
        """Load the PEFT adapter saved in ``adapter_dir`` under ``name``."""
        adapter_dir = Path(adapter_dir)
        if not name or name == BASE_ADAPTER or "." in name:
            raise ValueError(f"adapter name {name!r} is empty, reserved or contains '.'")
        if name in self._adapter_dirs:
            raise ValueError(
                f"adapter {name!r} is already loaded (from {self._adapter_dirs[name]})"
            )
        if not (adapter_dir / "adapter_config.json").is_file():
            raise FileNotFoundError(f"adapter {name!r}: no adapter_config.json in {adapter_dir}")
        if isinstance(self.model, PeftModel):
            self.model.load_adapter(adapter_dir, adapter_name=name)
        else:
            self.model = PeftModel.from_pretrained(self.model, adapter_dir, adapter_name=name)
        self.model.eval()
        self._adapter_dirs[name] = adapter_dir
        if self.model.peft_config[name].use_dora:
            self._dora_adapters.add(name)

    def unload_adapter(self, name: str) -> None:
        """Remove adapter ``name`` from the model (frees its weights)."""
        if name not in self._adapter_dirs:
            raise KeyError(f"adapter {name!r} is not loaded (loaded: {list(self._adapter_dirs)})")
        if len(self._adapter_dirs) == 1:
            self.model = self.model.unload()  # the bare transformers model, LoRA layers removed
        else:
            self.model.delete_adapter(name)
        del self._adapter_dirs[name]
        self._dora_adapters.discard(name)

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        batch_size: int = 8,
        progress: ProgressCallback | None = None,
    ) -> list[GenerationOutput]:
        """Run all requests in batches of at most ``batch_size``; outputs in request order.
        ``progress(done, total)`` is called after each batch."""
        self._check_requests(requests)
        prompts = [encode_prompt(self.tokenizer, r.problem_name, r.buggy_source) for r in requests]
        batches = plan_batches(
            [r.adapter_name for r in requests],
            self._dora_adapters,
            [len(p) for p in prompts],
            batch_size,
        )
        outputs: list[GenerationOutput | None] = [None] * len(requests)
        done = 0
        for batch in batches:
            start = time.perf_counter()
            new_ids = self._decode_batch([requests[i] for i in batch], [prompts[i] for i in batch])
            seconds = time.perf_counter() - start
            for index, ids in zip(batch, new_ids, strict=True):
                request = requests[index]
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                outputs[index] = GenerationOutput(
                    request_id=request.request_id,
                    problem_name=request.problem_name,
                    raw_text=text,
                    program=extract_program(text, request.problem_name),
                    prompt_tokens=len(prompts[index]),
                    new_tokens=len(ids),
                    seconds=seconds,
                )
            done += len(batch)
            if progress is not None:
                progress(done, len(requests))
        missing = [requests[i].request_id for i, o in enumerate(outputs) if o is None]
        if missing:
            raise RuntimeError(f"generation produced no output for requests {missing}")
        return outputs

    def generate_lines(
        self,
        requests: Sequence[LineRequest],
        batch_size: int = 8,
        progress: ProgressCallback | None = None,
    ) -> list[LineOutput]:
        """``line``-format answers, outputs in request order. Requests with the same task and
        adapter share ONE prompt prefill: the prompt is encoded once, its KV cache repeated
        over up to ``batch_size`` rows, then each row decodes with its own knobs and seed as in
        ``generate`` (a row's tokens equal ``generate``'s up to float rounding)."""
        self._check_requests(requests)  # type: ignore[arg-type]
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        groups: dict[tuple[LineTask, str | None], list[int]] = {}
        for index, r in enumerate(requests):
            groups.setdefault((r.task, r.adapter_name), []).append(index)
        outputs: list[LineOutput | None] = [None] * len(requests)
        done = 0
        for (task, _), members in groups.items():
            prompt = encode_line_prompt(self.tokenizer, task)
            for k in range(0, len(members), batch_size):
                chunk = members[k : k + batch_size]
                start = time.perf_counter()
                new_ids = self._decode_shared(prompt, [requests[i] for i in chunk])
                seconds = time.perf_counter() - start
                for index, ids in zip(chunk, new_ids, strict=True):
                    outputs[index] = LineOutput(
                        request_id=requests[index].request_id,
                        problem_name=task.function_name,
                        raw_text=self.tokenizer.decode(ids, skip_special_tokens=True),
                        prompt_tokens=len(prompt),
                        new_tokens=len(ids),
                        seconds=seconds,
                    )
                done += len(chunk)
                if progress is not None:
                    progress(done, len(requests))
        return [o for o in outputs if o is not None]

    @torch.inference_mode()
    def _decode_shared(self, prompt: list[int], requests: Sequence[LineRequest]) -> list[list[int]]:
        """Decode ``requests`` (one task, one adapter) after one single-row prefill."""
        device, rows = self.device, len(requests)
        adapter = requests[0].adapter_name
        cache = DynamicCache(config=self.config)
        ids = torch.tensor([prompt], dtype=torch.long, device=device)
        logits = self.model(
            input_ids=ids,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
            **self._select_adapters([adapter]),
        ).logits[:, -1, :]
        cache.batch_repeat_interleave(rows)
        seen = torch.zeros((1, self.config.vocab_size), dtype=torch.bool, device=device)
        seen[0, ids[0]] = True
        return self._decode_loop(
            requests,
            logits.expand(rows, -1),
            cache,
            torch.ones((rows, len(prompt)), dtype=torch.long, device=device),
            torch.full((rows,), len(prompt), dtype=torch.long, device=device),
            seen.repeat(rows, 1),
            self._select_adapters([adapter] * rows),
        )

    def _check_requests(self, requests: Sequence[GenerationRequest]) -> None:
        ids = [r.request_id for r in requests]
        if len(set(ids)) != len(ids):
            duplicates = sorted({i for i in ids if ids.count(i) > 1})
            raise ValueError(f"duplicate generation request ids: {duplicates}")
        for r in requests:
            if r.adapter_name is not None and r.adapter_name not in self._adapter_dirs:
                raise KeyError(
                    f"generation request {r.request_id!r}: adapter {r.adapter_name!r} is not "
                    f"loaded (loaded: {list(self._adapter_dirs)})"
                )
            if not 0 <= r.seed <= MAX_SEED:
                raise ValueError(
                    f"generation request {r.request_id!r}: seed must be in [0, 2**63), got {r.seed}"
                )
            validate_knobs(r.request_id, r.knobs)

    def forward_kwargs(self, names: Sequence[str | None]) -> dict[str, Any]:
        """Forward kwargs that run row ``i`` with adapter ``names[i]`` (``None``: the bare base
        model); a DoRA adapter must be the only name (it is activated; no kwargs)."""
        return self._select_adapters(names)

    def _select_adapters(self, names: Sequence[str | None]) -> dict[str, Any]:
        """Forward kwargs selecting each row's adapter; for a DoRA batch (one adapter, see the
        module doc) it activates that adapter and returns no kwargs."""
        if not self._adapter_dirs:
            return {}
        dora = {n for n in names if n in self._dora_adapters}
        if dora:
            if len(set(names)) != 1:
                raise AssertionError(f"DoRA rows batched with other rows: {sorted(set(names))}")
            self.model.set_adapter(next(iter(dora)))
            return {}
        return {"adapter_names": [BASE_ADAPTER if n is None else n for n in names]}

    @torch.inference_mode()
    def _decode_batch(
        self, requests: Sequence[GenerationRequest], prompts: Sequence[list[int]]
    ) -> list[list[int]]:
        device, rows = self.device, len(requests)
        width = max(len(p) for p in prompts)
        input_ids = torch.full((rows, width), self.tokenizer.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((rows, width), dtype=torch.long)
        seen = torch.zeros((rows, self.config.vocab_size), dtype=torch.bool)
        for row, prompt in enumerate(prompts):
            ids = torch.tensor(prompt, dtype=torch.long)
            input_ids[row, width - len(prompt) :] = ids
            attention_mask[row, width - len(prompt) :] = 1
            seen[row, ids] = True
        input_ids, attention_mask, seen = (
            input_ids.to(device),
            attention_mask.to(device),
            seen.to(device),
        )
        position_ids = (attention_mask.cumsum(dim=-1) - 1).clamp(min=0)
        next_position = attention_mask.sum(dim=-1)

        cache = DynamicCache(config=self.config)
        adapter_kwargs = self._select_adapters([r.adapter_name for r in requests])
        logits = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
            **adapter_kwargs,
        ).logits[:, -1, :]
        return self._decode_loop(
            requests, logits, cache, attention_mask, next_position, seen, adapter_kwargs
        )

    def _decode_loop(
        self,
        requests: Sequence[Any],
        logits: torch.Tensor,
        cache: DynamicCache,
        attention_mask: torch.Tensor,
        next_position: torch.Tensor,
        seen: torch.Tensor,
        adapter_kwargs: dict[str, Any],
    ) -> list[list[int]]:
        """Decode after the prefill: ``logits`` [rows, vocab] of the last prompt position."""
        device = self.device
        knobs = [r.knobs for r in requests]
        generators = [torch.Generator().manual_seed(r.seed) for r in requests]
        active = list(range(len(requests)))  # batch rows still decoding, in cache order
        generated: list[list[int]] = [[] for _ in requests]
        while True:
            chosen = next_tokens(
                logits, seen, [knobs[i] for i in active], [generators[i] for i in active]
            )
            seen[torch.arange(len(active), device=device), chosen] = True
            keep = []
            for local, (row, token) in enumerate(zip(active, chosen.tolist(), strict=True)):
                generated[row].append(token)
                if (
                    token not in self.stop_token_ids
                    and len(generated[row]) < knobs[row].max_new_tokens
                ):
                    keep.append(local)
            if not keep:
                return generated
            if len(keep) < len(active):
                index = torch.tensor(keep, device=device)
                cache.batch_select_indices(index)
                attention_mask, seen = attention_mask[index], seen[index]
                chosen, next_position = chosen[index], next_position[index]
                active = [active[local] for local in keep]
                if "adapter_names" in adapter_kwargs:
                    adapter_kwargs["adapter_names"] = [
                        adapter_kwargs["adapter_names"][k] for k in keep
                    ]
            attention_mask = torch.cat(
                [attention_mask, attention_mask.new_ones((len(active), 1))], dim=-1
            )
            logits = self.model(
                input_ids=chosen[:, None],
                attention_mask=attention_mask,
                position_ids=next_position[:, None],
                cache=cache,
                use_cache=True,
                **adapter_kwargs,
            ).logits[:, -1, :]
            next_position = next_position + 1
