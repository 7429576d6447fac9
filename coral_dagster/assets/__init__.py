"""CORAL's software-defined assets and asset checks."""

from coral_dagster.assets.adapters import adapters
from coral_dagster.assets.checks import ALL_CHECKS
from coral_dagster.assets.genomes import generated_code
from coral_dagster.assets.genomes import test_scores as test_scores_asset
from coral_dagster.assets.population import population
from coral_dagster.assets.report import evolution_report, heldout_evaluation
from coral_dagster.assets.shared import base_model, problems

ALL_ASSETS = [
    problems,
    base_model,
    population,
    adapters,
    generated_code,
    test_scores_asset,
    heldout_evaluation,
    evolution_report,
]

GPU_ASSETS = frozenset({"adapters", "generated_code", "heldout_evaluation"})

__all__ = ["ALL_ASSETS", "ALL_CHECKS", "GPU_ASSETS"]
