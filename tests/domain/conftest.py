"""Fixtures of the domain tests: the shipped configs and a fixed key context."""

from __future__ import annotations

import pytest
from domain_helpers import REPO

from coral_dagster.domain.config import ExperimentConfig, load_config
from coral_dagster.domain.genome import Genome
from coral_dagster.domain.population import initial_population
from coral_dagster.domain.records import KeyContext


@pytest.fixture(scope="session")
def quick_config() -> ExperimentConfig:
    return load_config(REPO / "configs" / "quick.yaml")


@pytest.fixture(scope="session")
def default_config() -> ExperimentConfig:
    return load_config(REPO / "configs" / "default.yaml")


@pytest.fixture
def key_context() -> KeyContext:
    return KeyContext(
        base_model_id="test-base-model",
        training_data_fingerprint="train-fingerprint",
        training_config={"max_steps": 4, "batch_size": 2, "code_version": "t1"},
        evaluation_fingerprint="eval-fingerprint",
    )


@pytest.fixture(scope="session")
def quick_population(quick_config: ExperimentConfig) -> tuple[Genome, ...]:
    return tuple(initial_population(quick_config))


@pytest.fixture(scope="session")
def default_population(default_config: ExperimentConfig) -> tuple[Genome, ...]:
    return tuple(initial_population(default_config))
