"""The step table is the one place that names each step's assets, partitions, job and placement."""

from __future__ import annotations

from collections import Counter

from coral_dagster.definitions import defs
from coral_dagster.domain.planner import Step
from coral_dagster.orchestration.placement import COMPUTE_TAG
from coral_dagster.orchestration.steps import STEPS, all_assets, job_compute, step_of


def _definition_assets() -> dict[str, object]:
    graph = defs.resolve_asset_graph()
    return {
        key.to_user_string(): graph.get(key).assets_def
        for key in graph.get_all_asset_keys()
        if graph.get(key).assets_def.is_executable
    }


def test_every_asset_belongs_to_exactly_one_step():
    listed = Counter(all_assets())
    assert max(listed.values()) == 1, listed
    assert set(listed) == set(_definition_assets())
    assert set(STEPS) == set(Step)  # every planner step has a row


def test_assets_take_partitions_group_and_placement_from_their_step():
    for name, assets_def in _definition_assets().items():
        spec = step_of(name)
        partitions = assets_def.partitions_def
        assert (partitions.name if partitions else None) == spec.partitions, name
        assert assets_def.group_names_by_key[assets_def.key] == spec.group
        assert assets_def.op.tags[COMPUTE_TAG] == spec.compute.value


def test_jobs_select_exactly_their_steps_assets():
    jobs = {
        job.name: job
        for job in defs.resolve_all_job_defs()
        if job.name in {spec.job for spec in STEPS.values()}
    }
    assert set(jobs) == {spec.job for spec in STEPS.values()}
    for name, job in jobs.items():
        selected = {key.to_user_string() for key in job.asset_layer.executable_asset_keys}
        assert selected == {a for spec in STEPS.values() if spec.job == name for a in spec.assets}
    assert job_compute("coral_genomes").value == "gpu"  # generate needs a GPU, score does not


def test_heldout_has_its_own_partition_set_mapped_to_the_same_generation():
    """`heldout_evaluation` (final generations only) depends on `population` (every generation)
    by identity: the final generation's held-out partition reads that generation's population."""
    from dagster import AssetKey, IdentityPartitionMapping

    assert STEPS[Step.HELDOUT].partitions == "final_generations"
    assert STEPS[Step.HELDOUT].job == "coral_heldout"
    graph = defs.resolve_asset_graph()
    mapping = graph.get_partition_mapping(AssetKey("heldout_evaluation"), AssetKey("population"))
    assert isinstance(mapping, IdentityPartitionMapping)


def test_no_module_names_an_asset_key_by_a_literal():
    """Code that reads an asset's materializations takes its name from the step table (or the
    asset definition), never from a string literal that a rename would leave behind."""
    import re
    from pathlib import Path

    import coral_dagster

    root = Path(coral_dagster.__file__).parent
    literal = re.compile(r"AssetKey\(\s*[\"']")
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for path in sorted(root.rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if literal.search(line)
    ]
    assert offenders == []
