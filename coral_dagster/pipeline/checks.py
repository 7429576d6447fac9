"""The checks of stored artifacts, as plain functions (the asset checks wrap them).

Each returns a ``CheckOutcome``: passed, and metadata naming what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coral_dagster.pipeline import layout
from coral_dagster.pipeline.population import load_population
from coral_dagster.pipeline.records import GeneratedCode, Scores
from coral_dagster.pipeline.store import ArtifactCorrupt, ArtifactMissing, ArtifactStore


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    metadata: dict[str, Any] = field(default_factory=dict)


def scores_check(store: ArtifactStore, genome_key: str) -> CheckOutcome:
    """The stored scores are intact and every objective and the fitness lie in [0, 1]."""
    try:
        scores = store.read_record(Scores, genome_key)
    except (ArtifactMissing, ArtifactCorrupt) as err:
        return CheckOutcome(False, {"error": str(err)})
    values = {**scores.objectives, "fitness": scores.fitness}
    outside = {k: v for k, v in values.items() if not 0.0 <= v <= 1.0}
    return CheckOutcome(not outside, {"outside": str(outside)})


def generated_check(
    store: ArtifactStore, genome_key: str, problems: int, samples: int = 1
) -> CheckOutcome:
    """The stored patches are intact and there are ``samples`` per validation problem."""
    try:
        generated = store.read_record(GeneratedCode, genome_key)
    except (ArtifactMissing, ArtifactCorrupt) as err:
        return CheckOutcome(False, {"error": str(err)})
    count = len(generated.outputs)
    return CheckOutcome(
        count == problems * samples,
        {"patches": count, "validation_problems": problems, "samples_per_problem": samples},
    )


def adapter_check(store: ArtifactStore, adapter_key: str) -> CheckOutcome:
    """The adapter's files are present and match the checksums in its manifest."""
    try:
        store.verify_dir(layout.adapter_dir(adapter_key))
    except (ArtifactMissing, ArtifactCorrupt) as err:
        return CheckOutcome(False, {"error": str(err)})
    return CheckOutcome(True)


def population_check(store: ArtifactStore, generation: int) -> CheckOutcome:
    """No genome key appears twice in a generation."""
    keys = load_population(store, generation).genome_keys
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    return CheckOutcome(not duplicates, {"duplicates": str(duplicates)})
