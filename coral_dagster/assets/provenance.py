"""Data versions and provenance for the per-partition materializations of the batched assets.

A batched asset (``generated_code``, ``validation_scores``) yields one ``AssetMaterialization``
per genome partition. Dagster records data versions and input provenance only for outputs, so
without these tags every such partition would look "Unsynced" as soon as an upstream asset is
materialized again, even with identical content. The tags below are the ones Dagster writes on
an output's materialization (``dagster/data_version``, ``dagster/code_version``,
``dagster/input_data_version/<asset>``, ``dagster/input_event_pointer/<asset>``); Dagster's
staleness reads them from the event, so a re-materialization of ``problems`` or ``base_model``
with the same data version leaves every genome partition in sync. The strings are Dagster's
persisted event format (tests/platform/test_ui_browser.py checks the result through the UI's
GraphQL); nothing here imports Dagster's private modules.
"""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance

DATA_VERSION_TAG = "dagster/data_version"
DATA_VERSION_IS_USER_PROVIDED_TAG = "dagster/data_version_is_user_provided"
CODE_VERSION_TAG = "dagster/code_version"
INPUT_DATA_VERSION_PREFIX = "dagster/input_data_version"
INPUT_EVENT_POINTER_PREFIX = "dagster/input_event_pointer"
NULL_EVENT_POINTER = "NULL"


def input_tags(
    instance: DagsterInstance, inputs: Iterable[tuple[AssetKey, str | None]]
) -> dict[str, str]:
    """The provenance tags for ``inputs`` (an upstream asset and its partition, None when
    unpartitioned): the data version and event id of each one's latest materialization."""
    tags: dict[str, str] = {}
    for key, partition in inputs:
        records = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None),
            limit=1,
        ).records
        name = key.to_user_string()
        if not records:
            continue
        record = records[0]
        version = record.asset_materialization.tags.get(DATA_VERSION_TAG)
        if version is None:
            continue
        tags[f"{INPUT_DATA_VERSION_PREFIX}/{name}"] = version
        tags[f"{INPUT_EVENT_POINTER_PREFIX}/{name}"] = str(record.storage_id or NULL_EVENT_POINTER)
    return tags


def version_tags(data_version: str, run_id: str, inputs: dict[str, str]) -> dict[str, str]:
    """Tags of a materialization whose data version is ``data_version`` (derived from its
    content), made by run ``run_id`` (Dagster's code version for an asset without one) from
    ``inputs`` (``input_tags``)."""
    return {
        CODE_VERSION_TAG: run_id,
        **inputs,
        DATA_VERSION_TAG: data_version,
        DATA_VERSION_IS_USER_PROVIDED_TAG: "true",
    }
