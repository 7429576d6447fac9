"""The ``adapters`` stage: train the adapter of a key unless a valid one is stored, at most once.

A stored adapter is a directory ``adapters/<key>/`` published with a checksum manifest; every
use verifies it first, so a corrupted copy is retrained, never loaded.
"""

from __future__ import annotations

import ast
import random
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coral_dagster.benchmark.corpus import BugPair
from coral_dagster.benchmark.localization import Hunk
from coral_dagster.domain.genome import HeavyGenes
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.corpus import as_pairs, load_corpus
from coral_dagster.pipeline.inputs import ExperimentInputs
from coral_dagster.pipeline.records import AdapterTraining
from coral_dagster.pipeline.repair import Candidate, answer_text, edit_candidates, sample_seed
from coral_dagster.pipeline.store import ArtifactStore, write_record_file

# The model layer imports torch/transformers/peft: 3.5 s of a fresh run's 5 s start-up
# (python -X importtime). It is imported where used, so runs that load no model start fast.
if TYPE_CHECKING:
    from coral_dagster.model.base_model import ResolvedBaseModel
    from coral_dagster.model.training import AnyExample


@dataclass(frozen=True)
class AdapterResult:
    """``cached``: a valid stored adapter was reused (nothing trained)."""

    cached: bool
    training: AdapterTraining


def training_examples(inputs: ExperimentInputs, pairs: Sequence[BugPair]) -> list[AnyExample]:
    """The corpus's pairs as examples in the configured patch format, read as generation reads
    them (``function``: whole fixed function; ``line`` / ``edit``: the fixed line(s) at the
    marked place, or ``N: line`` without localisation; ``edit`` with ``candidate_score:
    program``: the fixed program as plain text, as candidates are scored). Without localisation
    a missing line cannot be named by number, so line examples leave those pairs out. With the
    ranking loss on, an example carries negatives (``ranking_candidates``), and in ``edit``
    format its fix is the candidate that makes it when an edit does."""
    from coral_dagster.model.prompts import LineTask, line_response_text, numbered_response_text
    from coral_dagster.model.training import (
        LineTrainingExample,
        ProgramTrainingExample,
        TrainingExample,
    )

    patch = inputs.config.patch
    examples: list[AnyExample] = []
    for pair in pairs:
        if patch.format == "function":
            examples.append(TrainingExample(pair.program, pair.buggy_source, pair.fixed_source))
            continue
        if patch.candidate_score == "program":
            fix, drawn = ranking_candidates(pair, inputs)
            examples.append(
                ProgramTrainingExample(
                    pair.program,
                    pair.buggy_source,
                    pair.fixed_source if fix is None else fix.program,
                    tuple(c.program for c in drawn),
                )
            )
            continue
        if patch.localization == "none" and pair.hunk_count == 0:
            continue
        lines = answer_text(pair.fixed_lines).splitlines()
        if patch.localization == "oracle":
            task = LineTask(pair.program, pair.buggy_source, pair.hunk_start, pair.hunk_count)
            answer = line_response_text(task, lines)
        else:
            task = LineTask(pair.program, pair.buggy_source, None)
            answer = numbered_response_text(pair.hunk_start, lines)
        fix, drawn = ranking_candidates(pair, inputs)
        if fix is not None and patch.format == "edit":  # `line` answers are written freely
            answer = fix.answer
        examples.append(LineTrainingExample(task, answer, tuple(c.answer for c in drawn)))
    return examples


def ranking_candidates(
    pair: BugPair, inputs: ExperimentInputs
) -> tuple[Candidate | None, tuple[Candidate, ...]]:
    """``(fix, negatives)`` of the ranking loss, from the ``edit`` candidates the buggy program
    would have in generation (its marked place's single edits with oracle localisation, every
    code line's without); ``(None, ())`` when the loss is off.

    ``fix`` is the candidate whose program is the fixed program (compared as ASTs; the one with
    the same text when there is one), None when no edit fixes the pair (the example then keeps
    the human fix). In ``edit`` format the example's positive is that candidate, written as
    generation writes candidates, so the loss does not learn the human fix's spelling (quotes,
    parentheses) against the candidates' (``line`` answers are the model's own text: their
    positive stays the human line). ``negatives`` are
    ``training.ranking_negatives`` of the other candidates, drawn without replacement by
    ``random.Random(sample_seed("ranking", training.seed, program, buggy source, place))``."""
    training, patch = inputs.config.training, inputs.config.patch
    if training.ranking_weight == 0:
        return None, ()
    place = None
    if patch.localization == "oracle":
        first = pair.fixed_lines[0] if pair.fixed_lines else ""  # an insertion's indentation
        indent = first[: len(first) - len(first.lstrip())]
        place = Hunk(pair.hunk_start, pair.hunk_count, pair.fixed_lines, indent)
    fixed = ast.dump(ast.parse(pair.fixed_source))
    fixing, wrong = [], []
    for candidate in edit_candidates(pair.program, pair.buggy_source, place, patch):
        (fixing if ast.dump(ast.parse(candidate.program)) == fixed else wrong).append(candidate)
    same_text = [c for c in fixing if c.program == pair.fixed_source]
    rng = random.Random(
        sample_seed("ranking", training.seed, pair.program, pair.buggy_source, pair.hunk_start)
    )
    negatives = tuple(rng.sample(wrong, min(training.ranking_negatives, len(wrong))))
    return (same_text or fixing or [None])[0], negatives


def ensure_adapter(
    store: ArtifactStore,
    adapter_key: str,
    genes: HeavyGenes,
    inputs: ExperimentInputs,
    base: ResolvedBaseModel,
    local_dir: Path,
    device: str = "auto",
    run_id: str = "",
) -> AdapterResult:
    """Train the adapter of ``adapter_key`` unless a valid one is stored; at most once per key.

    Under an inter-process lock: a stored adapter that passes its checksum is a cache hit; a
    missing or corrupt one is (re)trained on the stored training corpus into a temporary folder
    and published with its manifest, and a line is appended to the training log. ``local_dir``
    holds the locks and local copies of remote artifacts.
    """
    from coral_dagster.model.training import train_adapter

    with store.lock(f"adapter-{adapter_key}", local_dir / "locks"):
        if store.is_valid_dir(layout.adapter_dir(adapter_key)):
            return AdapterResult(True, store.read_record(AdapterTraining, adapter_key))
        with tempfile.TemporaryDirectory(prefix="coral-adapter-") as tmp:
            out = Path(tmp) / "adapter"
            out.mkdir()
            corpus = load_corpus(
                store, inputs.key_context.training_data_fingerprint, local_dir / "corpus"
            )
            report = train_adapter(
                base,
                genes,
                training_examples(inputs, as_pairs(corpus)),
                inputs.config.training,
                out,
                device=device,
                dtype=inputs.config.model.dtype,
                ranking_score=inputs.config.patch.candidate_score,
            )
            training = AdapterTraining.from_dict(report.to_dict())
            write_record_file(out / layout.ADAPTER_TRAINING, training)
            store.publish_dir(out, layout.adapter_dir(adapter_key))
        store.append_line(
            layout.TRAINING_LOG,
            {
                "adapter_key": adapter_key,
                "run_id": run_id,
                "seconds": training.seconds,
                "time": time.time(),
            },
        )
        return AdapterResult(False, training)
