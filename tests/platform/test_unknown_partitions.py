"""A partition the planner did not add (the UI's "Add a partition" lets a user type any key)
fails its run with one line naming it: a real materialization of made-up partitions."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey

from coral_dagster.definitions import build_defs
from coral_dagster.orchestration.home import Home

NOT_CORAL = (
    "does not end with a 64-hex content key: it was not made by CORAL "
    "(genome and adapter partitions are added by the planner)"
)


def _materialize(home: Path, job: str, assets: list[str], partition: str, partition_set: str):
    instance = Home(home).instance()
    instance.add_dynamic_partitions(partition_set, [partition])
    result = (
        build_defs(home)
        .resolve_job_def(job)
        .execute_in_process(
            partition_key=partition,
            asset_selection=[AssetKey(a) for a in assets],
            instance=instance,
            raise_on_error=False,
        )
    )
    assert not result.success
    assert result.get_asset_materialization_events() == []
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    data = failure.step_failure_data
    description = data.user_failure_data.description
    assert "\n" not in description
    assert data.error.message.strip().splitlines()[0].endswith(description)
    return description


def test_made_up_genome_partitions_fail_with_one_line(copied_home: Path):
    assets = ["generated_code", "validation_scores"]
    made_up = _materialize(copied_home, "coral_genomes", assets, "my-genome", "genome_keys")
    assert made_up == f"generated_code failed for 1 genome(s): partition 'my-genome' {NOT_CORAL}"

    well_formed = "lora-r4-greedy-" + "0" * 64
    unknown = _materialize(copied_home, "coral_genomes", assets, well_formed, "genome_keys")
    assert unknown.startswith(
        f"generated_code failed for 1 genome(s): partition '{well_formed}' is not a genome of "
        "this experiment (missing genome spec"
    )
    scores = _materialize(
        copied_home, "coral_genomes", ["validation_scores"], "my-genome", "genome_keys"
    )
    assert scores == f"validation_scores failed for 1 genome(s): partition 'my-genome' {NOT_CORAL}"


def test_made_up_adapter_and_generation_partitions_fail_with_one_line(copied_home: Path):
    made_up = _materialize(copied_home, "coral_adapters", ["adapters"], "x", "adapter_keys")
    assert made_up == f"partition 'x' {NOT_CORAL}"
    well_formed = "lora-r4-a8-qv-" + "0" * 64
    unknown = _materialize(copied_home, "coral_adapters", ["adapters"], well_formed, "adapter_keys")
    assert unknown.startswith(f"partition '{well_formed}' is not an adapter of this experiment")
    generation = _materialize(
        copied_home, "coral_generations", ["population"], "latest", "generations"
    )
    assert generation.startswith("partition 'latest': 'latest' is not a generation partition key")
