"""A run's partition, checked: a partition the planner did not add fails the run with one line.

The UI lets a user add any partition key (the "Add a partition" button of a backfill or a
materialization dialog), and Dagster runs whatever key it is given. A genome or adapter
partition key ends with its 64-hex content key and names a record in the store; a generation
partition is `gNNNN`. Anything else fails as a `Failure` whose description is the reason, so
the run page shows that one line instead of a stack trace.
"""

from __future__ import annotations

from dagster import Failure

from coral_dagster.domain.partition_keys import content_key
from coral_dagster.domain.planner import generation_index


def content_key_or_fail(partition: str) -> str:
    """The content key a genome or adapter partition ends with, or a one-line `Failure`."""
    try:
        return content_key(partition)
    except ValueError as err:
        raise Failure(description=str(err), allow_retries=False) from None


def generation_or_fail(partition: str) -> int:
    """The generation index of a `gNNNN` partition, or a one-line `Failure`."""
    try:
        return generation_index(partition)
    except ValueError as err:
        raise Failure(
            description=f"partition {partition!r}: {err} (generations are added by the planner)",
            allow_retries=False,
        ) from None


def unknown(partition: str, what: str, err: Exception) -> str:
    """Why a well-formed partition has no record in the store."""
    return f"partition {partition!r} is not {what} of this experiment ({err})"
