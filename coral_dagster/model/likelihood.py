"""Log-likelihoods of several responses to one prompt, sharing one prompt prefill.

For a prompt ``x`` and responses ``r = (r_1, ..., r_m)`` the log-likelihood is

    log p(r | x) = sum_t log p(r_t | x, r_<t)      (nats).

``prefill`` runs the prompt once: its last position gives ``log p(r_1 | x)`` for every response,
and its KV cache is kept. ``continuation_logprobs`` expands that cache over a batch of
responses (``DynamicCache`` built from the prefix keys/values, no copy) and ONE forward over
the right-padded tokens ``r_1 .. r_{m-1}`` at positions ``len(x) ..`` gives ``log p(r_t | ...)``
for ``t >= 2``. Padding sits after every real token, so causal attention already hides it from
them. The same two functions serve scoring candidates (``model.scoring``, under
``torch.inference_mode``, eval mode, in length-sorted batches) and the ranking loss
(``model.training``, with gradients, train mode, all of an example's rows in one batch): a
candidate is trained on the computation it is later ranked by, up to dropout and float rounding.

``forward_kwargs`` are passed to every forward (adapter selection of ``PatchGenerator``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from transformers import DynamicCache

__all__ = ["Prefix", "continuation_logprobs", "prefill", "response_logprobs"]

Prefix = tuple[torch.Tensor, list[tuple[torch.Tensor, torch.Tensor]], int]
"""(log p(. | x) over the vocabulary [vocab], the prompt's cache layers (keys, values), len(x))."""


def prefill(model: nn.Module, prompt_ids: Sequence[int], **forward_kwargs: Any) -> Prefix:
    """One forward over the prompt: the first response token's log-probabilities and the cache."""
    if not prompt_ids:
        raise ValueError("likelihood: empty prompt")
    device = next(model.parameters()).device
    cache = DynamicCache(config=model.config)
    last = model(
        input_ids=torch.tensor([list(prompt_ids)], dtype=torch.long, device=device),
        cache=cache,
        use_cache=True,
        logits_to_keep=1,
        **forward_kwargs,
    ).logits[0, -1]
    layers = [(layer.keys, layer.values) for layer in cache.layers]
    return torch.log_softmax(last.float(), dim=-1), layers, len(prompt_ids)


def continuation_logprobs(
    model: nn.Module,
    prefix: Prefix,
    responses: Sequence[Sequence[int]],
    pad_token_id: int,
    **forward_kwargs: Any,
) -> torch.Tensor:
    """[len(responses), longest - 1] log p(r_t | x, r_<t) for t = 2 .. m of each response, 0
    past a response's end (a one-token response has only zeros)."""
    empty = [k for k, r in enumerate(responses) if not r]
    if not responses or empty:
        raise ValueError(f"likelihood: no responses, or responses {empty} are empty")
    _, layers, n_prompt = prefix
    device = next(model.parameters()).device
    batch = len(responses)
    width = max(len(r) for r in responses) - 1
    if width == 0:
        return torch.zeros((batch, 0), device=device)
    input_ids = torch.full((batch, width), pad_token_id, dtype=torch.long)
    targets = torch.zeros((batch, width), dtype=torch.long)
    mask = torch.zeros((batch, width), dtype=torch.bool)
    for row, ids in enumerate(responses):
        input_ids[row, : len(ids) - 1] = torch.tensor(list(ids[:-1]), dtype=torch.long)
        targets[row, : len(ids) - 1] = torch.tensor(list(ids[1:]), dtype=torch.long)
        mask[row, : len(ids) - 1] = True
    cache = DynamicCache(
        ddp_cache_data=[
            (k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in layers
        ],
        config=model.config,
    )
    logits = model(
        input_ids=input_ids.to(device),
        attention_mask=torch.ones((batch, n_prompt + width), dtype=torch.long, device=device),
        position_ids=torch.arange(n_prompt, n_prompt + width, device=device).expand(batch, -1),
        cache=cache,
        use_cache=True,
        **forward_kwargs,
    ).logits
    picked = torch.log_softmax(logits.float(), dim=-1).gather(-1, targets.to(device)[..., None])
    return torch.where(mask.to(device), picked[..., 0], 0.0)


def response_logprobs(
    model: nn.Module,
    prompt_ids: Sequence[int],
    responses: Sequence[Sequence[int]],
    pad_token_id: int,
    **forward_kwargs: Any,
) -> torch.Tensor:
    """[len(responses)] total log-likelihoods log p(r | x) (nats), one prefill and one batch;
    differentiable unless called under ``torch.inference_mode``."""
    if not responses or any(not r for r in responses):
        raise ValueError("likelihood: every response needs at least one token")
    prefix = prefill(model, prompt_ids, **forward_kwargs)
    first_logp = prefix[0]
    firsts = first_logp[torch.tensor([r[0] for r in responses], device=first_logp.device)]
    rest = continuation_logprobs(model, prefix, responses, pad_token_id, **forward_kwargs)
    return firsts + rest.sum(dim=1)
