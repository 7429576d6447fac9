"""The ranking loss: differentiable candidate scores equal the scorer's, descending the loss
lifts the fix, training records it, and off it changes nothing. (Whether it helps SmolLM2 rank
QuixBugs fixes is measured by ``bench/repair_probe.py``, not asserted here.)"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from model_helpers import (
    FAST_LINE_GENES,
    GCD_BUGGY,
    GCD_FIX,
    GCD_PROGRAMS,
    GCD_TASK,
    GCD_WRONG,
)
from safetensors.torch import load_file

from coral_dagster.domain.config import TrainingConfig
from coral_dagster.model.base_model import (
    ResolvedBaseModel,
    load_model_and_tokenizer,
    stop_token_ids,
)
from coral_dagster.model.generation import PatchGenerator
from coral_dagster.model.likelihood import response_logprobs
from coral_dagster.model.scoring import (
    program_ids,
    score_line_candidates,
    score_program_candidates,
)
from coral_dagster.model.training import (
    LineTrainingExample,
    ProgramTrainingExample,
    encode_example,
    ranking_scores,
    train_adapter,
)

TASK = GCD_TASK
FIX = GCD_FIX
WRONG = GCD_WRONG
GENES = FAST_LINE_GENES


@pytest.fixture(scope="module")
def model_and_tokenizer(tiny_base: ResolvedBaseModel):
    return load_model_and_tokenizer(tiny_base, device="cpu", dtype="float32")


def test_ranking_rows_are_the_scorers_responses(model_and_tokenizer) -> None:
    model, tokenizer = model_and_tokenizer
    stops = stop_token_ids(model, tokenizer)
    encoded = encode_example(tokenizer, LineTrainingExample(TASK, FIX, WRONG), 1024, stops)
    assert encoded.ranked is not None
    prompt_ids, rows = encoded.ranked
    assert prompt_ids == encoded.input_ids[: len(prompt_ids)]
    assert len(rows) == 1 + len(WRONG)
    for row, answer in zip(rows, (FIX, *WRONG), strict=True):
        assert row[-1] in stops and not any(t in stops for t in row[:-1])
        assert tokenizer.decode(row) == f"{answer}<|im_end|>"
    assert encode_example(tokenizer, LineTrainingExample(TASK, FIX), 1024, stops).ranked is None
    with pytest.raises(ValueError, match="'gcd': ranking rows need stop ids"):
        encode_example(tokenizer, LineTrainingExample(TASK, FIX, WRONG), 1024)


def test_program_examples_read_programs_as_the_program_score_does(model_and_tokenizer) -> None:
    """The language-model rows of a program example are the fixed program after the tokens it
    shares with the buggy one; its ranking rows are the program scorer's."""
    model, tokenizer = model_and_tokenizer
    stops = stop_token_ids(model, tokenizer)
    fixed, *negatives = GCD_PROGRAMS
    example = ProgramTrainingExample("gcd", GCD_BUGGY, fixed, tuple(negatives))
    encoded = encode_example(tokenizer, example, 1024, stops, "program")
    prefix, (rest, _) = program_ids(tokenizer, [fixed, GCD_BUGGY])
    assert encoded.input_ids == prefix + rest
    assert encoded.labels == [-100] * len(prefix) + rest
    assert tokenizer.decode(encoded.input_ids) == f"<|endoftext|>{fixed}"
    # the rest starts within the fixed line: the tokens before it are shared with the bug
    assert GCD_FIX.endswith(tokenizer.decode(rest).rstrip("\n"))
    ranked_prefix, rests = program_ids(tokenizer, GCD_PROGRAMS)
    assert encoded.ranked == (ranked_prefix, tuple(rests))
    assert not encoded.language_in_ranked  # the plain batches carry its language-model term
    plain = ProgramTrainingExample("gcd", GCD_BUGGY, fixed)
    assert encode_example(tokenizer, plain, 1024, stops, "program").ranked is None
    with pytest.raises(
        ValueError, match="'gcd': ProgramTrainingExample does not go with the 'mean'"
    ):
        encode_example(tokenizer, example, 1024, stops, "mean")
    with pytest.raises(
        ValueError, match="'gcd': LineTrainingExample does not go with the 'program'"
    ):
        encode_example(tokenizer, LineTrainingExample(TASK, FIX, WRONG), 1024, stops, "program")


@pytest.mark.parametrize("score", ["mean", "sum", "program"])
def test_differentiable_scores_equal_the_scorers_and_carry_gradients(
    tiny_base: ResolvedBaseModel, model_and_tokenizer, score: str
) -> None:
    model, tokenizer = model_and_tokenizer
    generator = PatchGenerator(tiny_base, device="cpu", dtype="float32")
    if score == "program":
        expected = score_program_candidates(generator, GCD_PROGRAMS)
    else:
        expected = score_line_candidates(generator, TASK, [FIX, *WRONG])
    stops = stop_token_ids(model, tokenizer)
    if score == "program":
        example = ProgramTrainingExample("gcd", GCD_BUGGY, GCD_PROGRAMS[0], GCD_PROGRAMS[1:])
    else:
        example = LineTrainingExample(TASK, FIX, WRONG)
    prompt_ids, rows = encode_example(tokenizer, example, 1024, stops, score).ranked
    got = ranking_scores(
        response_logprobs(model, prompt_ids, rows, tokenizer.pad_token_id), rows, score
    )
    want = [s.mean_logprob if score == "mean" else s.sum_logprob for s in expected]
    assert got.tolist() == pytest.approx(want, abs=1e-4)
    assert len(set(want)) == len(want)  # the candidates are told apart at all

    weight = model.model.layers[0].self_attn.q_proj.weight
    model.zero_grad()
    got.logsumexp(0).backward()
    assert weight.grad is not None and float(weight.grad.abs().sum()) > 0
    model.zero_grad()


def test_descending_the_ranking_loss_lifts_the_fix(model_and_tokenizer) -> None:
    """Plain gradient steps on the listwise loss alone raise the fix's share of the softmax."""
    from peft import get_peft_model

    from coral_dagster.model.training import lora_config

    model, tokenizer = model_and_tokenizer
    peft_model = get_peft_model(copy.deepcopy(model), lora_config(GENES))
    stops = stop_token_ids(model, tokenizer)
    prompt_ids, rows = encode_example(
        tokenizer, LineTrainingExample(TASK, FIX, WRONG), 1024, stops
    ).ranked
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(trainable, lr=0.5)
    losses = []
    for _ in range(10):
        optimizer.zero_grad()
        scores = ranking_scores(
            response_logprobs(peft_model, prompt_ids, rows, tokenizer.pad_token_id), rows, "mean"
        )
        loss = torch.nn.functional.cross_entropy(scores[None], torch.zeros(1, dtype=torch.long))
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[0] == pytest.approx(math.log(len(rows)), abs=0.2)  # untrained: near chance
    assert losses == sorted(losses, reverse=True) and losses[-1] < losses[0] - 0.05


def test_training_records_the_ranking_loss_and_off_changes_nothing(
    tiny_base: ResolvedBaseModel, tmp_path: Path
) -> None:
    ranked = [LineTrainingExample(TASK, FIX, WRONG)]
    plain = [LineTrainingExample(TASK, FIX)]
    on = TrainingConfig(max_steps=3, batch_size=1, max_length=512, ranking_weight=1.0)
    off = TrainingConfig(max_steps=3, batch_size=1, max_length=512)

    report = train_adapter(tiny_base, GENES, ranked, on, tmp_path / "on", "cpu")
    assert len(report.ranking_losses) == 3
    assert report.ranking_losses[0] == pytest.approx(math.log(5), abs=0.2)  # near chance
    # Step 1 runs the untrained adapter (B = 0): its language-model term is the base model's
    # token cross-entropy of the answer up to its stop token, from the same forward.
    generator = PatchGenerator(tiny_base, device="cpu", dtype="float32")
    [fix] = score_line_candidates(generator, TASK, [FIX])
    assert report.losses[0] == pytest.approx(-fix.mean_logprob, rel=1e-4)
    with_negatives = train_adapter(tiny_base, GENES, ranked, off, tmp_path / "off", "cpu")
    without = train_adapter(tiny_base, GENES, plain, off, tmp_path / "plain", "cpu")
    assert with_negatives.ranking_losses == [] and with_negatives.losses == without.losses
    weights = {
        run: load_file(tmp_path / run / "adapter_model.safetensors")
        for run in ("on", "off", "plain")
    }
    assert all(torch.equal(weights["off"][k], weights["plain"][k]) for k in weights["off"])
    assert any(not torch.equal(weights["on"][k], weights["off"][k]) for k in weights["off"])


def test_program_examples_train_on_the_fixed_programs_likelihood(
    tiny_base: ResolvedBaseModel, tmp_path: Path
) -> None:
    """With the ``program`` score, step 1's language term is the untrained adapter's per-token
    negative log-likelihood of the fixed program after what it shares with the buggy one, and
    its ranking loss the listwise loss over the programs, as the program scorer computes them."""
    fixed, *negatives = GCD_PROGRAMS
    on = TrainingConfig(max_steps=2, batch_size=1, max_length=512, ranking_weight=1.0)
    off = TrainingConfig(max_steps=2, batch_size=1, max_length=512)
    ranked = [ProgramTrainingExample("gcd", GCD_BUGGY, fixed, tuple(negatives))]
    report = train_adapter(
        tiny_base, GENES, ranked, on, tmp_path / "on", "cpu", ranking_score="program"
    )
    plain = train_adapter(
        tiny_base, GENES, ranked, off, tmp_path / "off", "cpu", ranking_score="program"
    )
    generator = PatchGenerator(tiny_base, device="cpu", dtype="float32")
    [fix, _] = score_program_candidates(generator, [fixed, GCD_BUGGY])
    assert report.losses[0] == pytest.approx(-fix.mean_logprob, rel=1e-4)
    scored = score_program_candidates(generator, GCD_PROGRAMS)
    expected = float(-torch.log_softmax(torch.tensor([s.sum_logprob for s in scored]), 0)[0])
    assert len(report.ranking_losses) == 2 and plain.ranking_losses == []
    assert report.ranking_losses[0] == pytest.approx(expected, abs=1e-4)
    assert report.losses[0] == plain.losses[0]  # same forward over the same batch
    assert report.losses[1] != plain.losses[1]  # the ranking term moved the adapter
