"""CORAL's software-defined assets and asset checks (each asset belongs to one step of
``coral_dagster.orchestration.steps.STEPS``)."""

from coral_dagster.assets.adapters import adapters
from coral_dagster.assets.checks import ALL_CHECKS
from coral_dagster.assets.genomes import generated_code, validation_scores
from coral_dagster.assets.population import population
from coral_dagster.assets.report import evolution_report, heldout_evaluation
from coral_dagster.assets.shared import base_model, problems, training_corpus, validation_bugs

ALL_ASSETS = [
    problems,
    training_corpus,
    base_model,
    validation_bugs,
    population,
    adapters,
    generated_code,
    validation_scores,
    heldout_evaluation,
    evolution_report,
]

__all__ = ["ALL_ASSETS", "ALL_CHECKS"]
