"""Shared fixtures for the model-layer tests: one cache dir, the tiny-random model, adapters.

With ``CORAL_CACHE_DIR`` set, converted/built base models live in ``$CORAL_CACHE_DIR/models`` (as
for ``coral evolve``) and survive between runs; otherwise they are built once per session under
pytest's tmp dir.

Model tests run torch on one intra-op thread (restored afterwards, so other tests are not
affected): on the shared 2-core test machine torch's 2-thread OpenMP pool stalls under
oversubscription (the same tiny generation took 18 s on 2 threads, 2.7 s on 1).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from model_helpers import TRAINING_PAIRS, torch_threads

from coral_dagster.domain.config import TrainingConfig
from coral_dagster.domain.genome import HeavyGenes
from coral_dagster.model.base_model import ResolvedBaseModel, resolve_base_model
from coral_dagster.model.training import TrainingExample, train_adapter


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


@pytest.fixture(scope="session")
def model_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    configured = os.environ.get("CORAL_CACHE_DIR")
    if configured:
        return Path(configured) / "models"  # where `coral evolve` keeps converted checkpoints
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def tiny_base(model_cache_dir: Path) -> ResolvedBaseModel:
    with torch_threads(1):
        return resolve_base_model("tiny-random", model_cache_dir)


TINY_ADAPTER_GENES = {
    "lora_a": HeavyGenes(
        rank=8,
        alpha=16,
        dropout=0.0,
        target_modules=("q_proj", "v_proj", "o_proj"),
        adapter_type="lora",
        learning_rate=5e-2,
    ),
    "lora_b": HeavyGenes(
        rank=4,
        alpha=8,
        dropout=0.1,
        target_modules=("gate_proj", "up_proj", "down_proj"),
        adapter_type="lora",
        learning_rate=5e-2,
    ),
    "dora": HeavyGenes(
        rank=4,
        alpha=8,
        dropout=0.0,
        target_modules=("q_proj", "k_proj", "v_proj"),
        adapter_type="dora",
        learning_rate=5e-2,
    ),
}


@pytest.fixture(scope="session")
def tiny_examples() -> list[TrainingExample]:
    return [TrainingExample(name, buggy, fixed) for name, buggy, fixed in TRAINING_PAIRS]


@pytest.fixture(scope="session")
def tiny_adapters(
    tiny_base: ResolvedBaseModel,
    tiny_examples: list[TrainingExample],
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, Path]:
    """Three adapters trained hard enough (lr 0.05, 6 steps) to change the tiny model's output."""
    root = tmp_path_factory.mktemp("tiny-adapters")
    config = TrainingConfig(max_steps=6, batch_size=2, max_length=256, seed=3)
    with torch_threads(1):
        for name, genes in TINY_ADAPTER_GENES.items():
            train_adapter(tiny_base, genes, tiny_examples, config, root / name, device="cpu")
    return {name: root / name for name in TINY_ADAPTER_GENES}
