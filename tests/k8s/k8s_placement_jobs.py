"""A GPU asset and a CPU asset tagged by ``op_tags_for``, importable for reconstruction.

The placement settings come from a fixed environment (not ``os.environ``) so the tags, and the pod
specs built from them, are the same on every machine.
"""

from __future__ import annotations

from dagster import Definitions, asset

from coral_dagster.placement import PlacementSettings, op_tags_for

PLACEMENT_ENV = {
    "CORAL_GPU_NODE_SELECTOR": '{"nvidia.com/gpu.present": "true"}',
    "CORAL_CPU_NODE_SELECTOR": '{"coral.dev/node-pool": "cpu"}',
    "CORAL_GPU_POD_CPU": "4",
    "CORAL_GPU_POD_MEMORY": "32Gi",
    "CORAL_CPU_POD_CPU": "2",
    "CORAL_CPU_POD_MEMORY": "4Gi",
}
SETTINGS = PlacementSettings.from_env(PLACEMENT_ENV)


@asset(op_tags=op_tags_for("gpu", SETTINGS))
def gpu_asset() -> int:
    return 1


@asset(op_tags=op_tags_for("cpu", SETTINGS))
def cpu_asset(gpu_asset: int) -> int:
    return gpu_asset + 1


defs = Definitions(assets=[gpu_asset, cpu_asset])
