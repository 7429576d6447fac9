"""The dynamic partition sets named in the step table, one ``DynamicPartitionsDefinition`` each."""

from __future__ import annotations

from dagster import DynamicPartitionsDefinition

from coral_dagster.domain.planner import Step
from coral_dagster.orchestration.steps import STEPS

PARTITION_SETS: dict[str, DynamicPartitionsDefinition] = {
    name: DynamicPartitionsDefinition(name=name)
    for name in dict.fromkeys(s.partitions for s in STEPS.values() if s.partitions)
}


def partitions_def(name: str | None) -> DynamicPartitionsDefinition | None:
    """The partition set called ``name`` (None: an unpartitioned step)."""
    return None if name is None else PARTITION_SETS[name]


def partition_set_of(step: Step) -> str:
    """The name of ``step``'s partition set (``ValueError`` for an unpartitioned step)."""
    name = STEPS[step].partitions
    if name is None:
        raise ValueError(f"step {step} is not partitioned")
    return name
