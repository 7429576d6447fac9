"""A GPU asset and a CPU asset tagged by ``op_tags_for``, importable for reconstruction.

The placement settings are fixed values (not read from ``os.environ``) so the tags, and the pod
specs built from them, are the same on every machine.
"""

from __future__ import annotations

from dagster import Definitions, asset

from coral_dagster.orchestration.placement import PlacementEnv, PlacementSettings, op_tags_for

PLACEMENT_ENV = {
    "CORAL_GPU_NODE_SELECTOR": '{"nvidia.com/gpu.present": "true"}',
    "CORAL_CPU_NODE_SELECTOR": '{"coral.dev/node-pool": "cpu"}',
    "CORAL_GPU_POD_CPU": "4",
    "CORAL_GPU_POD_MEMORY": "32Gi",
    "CORAL_CPU_POD_CPU": "2",
    "CORAL_CPU_POD_MEMORY": "4Gi",
}
# The same values, validated without reading the environment (model_validate skips env sources).
SETTINGS = PlacementSettings.from_env(
    PlacementEnv.model_validate(
        {
            "gpu_node_selector": {"nvidia.com/gpu.present": "true"},
            "cpu_node_selector": {"coral.dev/node-pool": "cpu"},
            "gpu_pod_cpu": "4",
            "gpu_pod_memory": "32Gi",
            "cpu_pod_cpu": "2",
            "cpu_pod_memory": "4Gi",
        }
    )
)


@asset(op_tags=op_tags_for("gpu", SETTINGS))
def gpu_asset() -> int:
    return 1


@asset(op_tags=op_tags_for("cpu", SETTINGS))
def cpu_asset(gpu_asset: int) -> int:
    return gpu_asset + 1


defs = Definitions(assets=[gpu_asset, cpu_asset])
