"""The ``adapters`` stage: train the adapter of a key unless a valid one is stored, at most once.

A stored adapter is a directory ``adapters/<key>/`` published with a checksum manifest; every
use verifies it first, so a corrupted copy is retrained, never loaded.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from coral_dagster.domain.genome import HeavyGenes
from coral_dagster.pipeline import layout
from coral_dagster.pipeline.inputs import ExperimentInputs
from coral_dagster.pipeline.records import AdapterTraining
from coral_dagster.pipeline.store import ArtifactStore, write_record_file

# The model layer imports torch/transformers/peft: 3.5 s of a fresh run's 5 s start-up
# (python -X importtime). It is imported where used, so runs that load no model start fast.
if TYPE_CHECKING:
    from coral_dagster.model.base_model import ResolvedBaseModel
    from coral_dagster.model.training import TrainingExample


@dataclass(frozen=True)
class AdapterResult:
    """``cached``: a valid stored adapter was reused (nothing trained)."""

    cached: bool
    training: AdapterTraining


def training_examples(inputs: ExperimentInputs) -> list[TrainingExample]:
    from coral_dagster.model.training import TrainingExample

    problems = inputs.problem_set.problems
    return [
        TrainingExample(
            name=n, buggy_source=problems[n].buggy_source, fixed_source=problems[n].correct_source
        )
        for n in inputs.split.train
    ]


def ensure_adapter(
    store: ArtifactStore,
    adapter_key: str,
    genes: HeavyGenes,
    inputs: ExperimentInputs,
    base: ResolvedBaseModel,
    lock_dir: Path,
    device: str = "auto",
    run_id: str = "",
) -> AdapterResult:
    """Train the adapter of ``adapter_key`` unless a valid one is stored; at most once per key.

    Under an inter-process lock: a stored adapter that passes its checksum is a cache hit; a
    missing or corrupt one is (re)trained into a temporary folder and published with its
    manifest, and a line is appended to the training log.
    """
    from coral_dagster.model.training import train_adapter

    with store.lock(f"adapter-{adapter_key}", lock_dir):
        if store.is_valid_dir(layout.adapter_dir(adapter_key)):
            return AdapterResult(True, store.read_record(AdapterTraining, adapter_key))
        with tempfile.TemporaryDirectory(prefix="coral-adapter-") as tmp:
            out = Path(tmp) / "adapter"
            out.mkdir()
            report = train_adapter(
                base,
                genes,
                training_examples(inputs),
                inputs.config.training,
                out,
                device=device,
                dtype=inputs.config.model.dtype,
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
