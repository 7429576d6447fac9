"""Where work runs: the executor for each execution mode and Kubernetes placement per asset kind.

Two execution modes, chosen by the env var ``CORAL_EXECUTION_MODE``:

- ``local`` (default): dagster's ``in_process_executor``; nothing Kubernetes-specific is imported.
- ``k8s``: runs are Kubernetes Jobs (``K8sRunLauncher``, set in the instance) and, by default,
  every step is its own Kubernetes Job (``dagster_k8s.k8s_job_executor``, imported lazily).
  ``CORAL_K8S_POD_PER=run`` instead executes all steps of a run inside the run pod.

Placement travels in tags. ``op_tags_for(kind)`` puts a ``dagster-k8s/config`` op tag on an asset:
the step handler of ``k8s_job_executor`` reads it for the step pod. ``run_tags_for(kind)`` puts the
same kind of tag on a run: the ``K8sRunLauncher`` reads it for the run pod. Both carry
``merge_behavior: SHALLOW``. dagster-k8s merges the launcher config, the code location's container
context, the executor config and the tag in that order, deep by default, so a CPU node selector
set on the launcher would be unioned into a GPU pod's selector (unschedulable). With SHALLOW, each
top-level key the tag sets (``container_config.resources``, ``pod_spec_config.node_selector``,
``pod_spec_config.tolerations``) replaces the inherited value; keys it does not set (env, volumes,
service account) are still inherited.

GPU concurrency is capped three ways by ``CORAL_MAX_GPU_STEPS`` (N, default 1): the executor's
``tag_concurrency_limits`` (N GPU steps per run), the op tag ``dagster/concurrency_key: coral-gpu``
(a global concurrency pool; the instance sets its limit) and the run queue's tag limit on
``coral/compute: gpu`` runs (in ``k8s/values.yaml`` / ``k8s/dagster.yaml``).

Placement knobs (env, all optional; JSON for mappings and lists, Kubernetes quantities for sizes):

=============================  ============================================================
``CORAL_K8S_POD_PER``          ``step`` (default) or ``run``
``CORAL_MAX_GPU_STEPS``        GPU steps at once per run, >= 1 (default 1)
``CORAL_MAX_RUNTIME_SECONDS``  ``dagster/max_runtime`` run tag in k8s mode (default 21600)
``CORAL_GPU_NODE_SELECTOR``    default ``{"nvidia.com/gpu.present": "true"}``
``CORAL_CPU_NODE_SELECTOR``    default ``{"coral.dev/node-pool": "cpu"}`` (also run pods)
``CORAL_GPU_TOLERATIONS``      default ``[{"key": "nvidia.com/gpu", "operator": "Exists",
                               "effect": "NoSchedule"}]``
``CORAL_CPU_TOLERATIONS``      default ``[]``
``CORAL_GPU_RESOURCE``         extended resource name, default ``nvidia.com/gpu``
``CORAL_GPUS_PER_POD``         default 1
``CORAL_GPU_POD_CPU/MEMORY``   default ``4`` / ``32Gi``
``CORAL_CPU_POD_CPU/MEMORY``   default ``2`` / ``4Gi``
``CORAL_RUN_POD_CPU/MEMORY``   run-worker pod under ``pod per step``, default ``500m`` / ``2Gi``
=============================  ============================================================

Memory limit = memory request (a pod is killed rather than the node starved); no CPU limit (no
throttling); GPU request = GPU limit (Kubernetes requires it for extended resources).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dagster import ExecutorDefinition, in_process_executor

MODE_ENV = "CORAL_EXECUTION_MODE"
POD_PER_ENV = "CORAL_K8S_POD_PER"
MAX_GPU_STEPS_ENV = "CORAL_MAX_GPU_STEPS"
MAX_RUNTIME_ENV = "CORAL_MAX_RUNTIME_SECONDS"

COMPUTE_TAG = "coral/compute"
# Same strings as dagster_k8s.job.USER_DEFINED_K8S_CONFIG_KEY and dagster's GLOBAL_CONCURRENCY_TAG /
# MAX_RUNTIME_SECONDS_TAG (tests assert the equality; importing them here would pull in k8s).
K8S_CONFIG_TAG = "dagster-k8s/config"
POOL_TAG = "dagster/concurrency_key"
MAX_RUNTIME_TAG = "dagster/max_runtime"
GPU_POOL = "coral-gpu"

_QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_TOLERATION_KEYS = frozenset(
    {"key", "operator", "value", "effect", "tolerationSeconds", "toleration_seconds"}
)


class PlacementError(ValueError):
    """A placement setting (env var or argument) is invalid; the message names it."""


class ComputeKind(StrEnum):
    """What an asset needs: a GPU pod or a CPU pod."""

    GPU = "gpu"
    CPU = "cpu"


class ExecutionMode(StrEnum):
    LOCAL = "local"
    K8S = "k8s"


class PodPer(StrEnum):
    """Kubernetes isolation: one pod per step (k8s_job_executor) or one pod per run."""

    STEP = "step"
    RUN = "run"


def _choice(enum: type[StrEnum], value: str, source: str) -> Any:
    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise PlacementError(f"{source}={value!r}: expected one of {allowed}") from None


def execution_mode(environ: Mapping[str, str] | None = None) -> ExecutionMode:
    """``CORAL_EXECUTION_MODE`` from ``environ`` (default ``os.environ``): ``local`` if unset."""
    env = os.environ if environ is None else environ
    return _choice(ExecutionMode, env.get(MODE_ENV, ExecutionMode.LOCAL.value), MODE_ENV)


@dataclass(frozen=True)
class PodPlacement:
    """Node selection and resources for one kind of pod."""

    node_selector: Mapping[str, str]
    tolerations: tuple[Mapping[str, Any], ...]
    requests: Mapping[str, str]
    limits: Mapping[str, str]

    def k8s_config(self) -> dict[str, Any]:
        """The ``dagster-k8s/config`` value: SHALLOW, so these keys replace inherited ones."""
        return {
            "merge_behavior": "SHALLOW",
            "container_config": {
                "resources": {"requests": dict(self.requests), "limits": dict(self.limits)}
            },
            "pod_spec_config": {
                "node_selector": dict(self.node_selector),
                "tolerations": [dict(t) for t in self.tolerations],
            },
        }


@dataclass(frozen=True)
class PlacementSettings:
    """All placement knobs, read once from the environment by :meth:`from_env`."""

    gpu: PodPlacement
    cpu: PodPlacement
    run_worker: PodPlacement
    pod_per: PodPer
    max_gpu_steps: int
    max_runtime_seconds: int

    def pod(self, kind: ComputeKind) -> PodPlacement:
        return self.gpu if kind is ComputeKind.GPU else self.cpu

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PlacementSettings:
        env = os.environ if environ is None else environ
        gpu_resource = env.get("CORAL_GPU_RESOURCE", "nvidia.com/gpu").strip()
        if not gpu_resource or " " in gpu_resource:
            raise PlacementError(f"CORAL_GPU_RESOURCE={gpu_resource!r}: expected a resource name")
        gpus = str(_positive_int(env, "CORAL_GPUS_PER_POD", 1))
        gpu_cpu = _quantity(env, "CORAL_GPU_POD_CPU", "4")
        gpu_mem = _quantity(env, "CORAL_GPU_POD_MEMORY", "32Gi")
        cpu_cpu = _quantity(env, "CORAL_CPU_POD_CPU", "2")
        cpu_mem = _quantity(env, "CORAL_CPU_POD_MEMORY", "4Gi")
        run_cpu = _quantity(env, "CORAL_RUN_POD_CPU", "500m")
        run_mem = _quantity(env, "CORAL_RUN_POD_MEMORY", "2Gi")
        cpu_selector = _node_selector(
            env, "CORAL_CPU_NODE_SELECTOR", {"coral.dev/node-pool": "cpu"}
        )
        cpu_tolerations = _tolerations(env, "CORAL_CPU_TOLERATIONS", [])
        return cls(
            gpu=PodPlacement(
                node_selector=_node_selector(
                    env, "CORAL_GPU_NODE_SELECTOR", {"nvidia.com/gpu.present": "true"}
                ),
                tolerations=_tolerations(
                    env,
                    "CORAL_GPU_TOLERATIONS",
                    [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
                ),
                requests={"cpu": gpu_cpu, "memory": gpu_mem, gpu_resource: gpus},
                limits={"memory": gpu_mem, gpu_resource: gpus},
            ),
            cpu=PodPlacement(
                node_selector=cpu_selector,
                tolerations=cpu_tolerations,
                requests={"cpu": cpu_cpu, "memory": cpu_mem},
                limits={"memory": cpu_mem},
            ),
            run_worker=PodPlacement(
                node_selector=cpu_selector,
                tolerations=cpu_tolerations,
                requests={"cpu": run_cpu, "memory": run_mem},
                limits={"memory": run_mem},
            ),
            pod_per=_choice(PodPer, env.get(POD_PER_ENV, PodPer.STEP.value), POD_PER_ENV),
            max_gpu_steps=_positive_int(env, MAX_GPU_STEPS_ENV, 1),
            max_runtime_seconds=_positive_int(env, MAX_RUNTIME_ENV, 21600),
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise PlacementError(f"{name}={raw!r}: expected an integer >= 1") from None
    if value < 1:
        raise PlacementError(f"{name}={raw!r}: expected an integer >= 1")
    return value


def _quantity(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, default).strip()
    if not _QUANTITY.match(value):
        raise PlacementError(f"{name}={value!r}: expected a Kubernetes quantity like 2, 500m, 4Gi")
    return value


def _json(env: Mapping[str, str], name: str, default: Any) -> Any:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except json.JSONDecodeError as err:
        raise PlacementError(f"{name}={raw!r}: invalid JSON ({err.msg})") from None


def _node_selector(env: Mapping[str, str], name: str, default: dict[str, str]) -> dict[str, str]:
    value = _json(env, name, default)
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in value.items()
    ):
        raise PlacementError(f"{name}: expected a JSON object of string labels, got {value!r}")
    return value


def _tolerations(
    env: Mapping[str, str], name: str, default: list[dict[str, Any]]
) -> tuple[dict[str, Any], ...]:
    value = _json(env, name, default)
    if not isinstance(value, list):
        raise PlacementError(f"{name}: expected a JSON list of tolerations, got {value!r}")
    for i, toleration in enumerate(value):
        if not isinstance(toleration, dict):
            raise PlacementError(f"{name}[{i}]: expected an object, got {toleration!r}")
        unknown = sorted(set(toleration) - _TOLERATION_KEYS)
        if unknown:
            raise PlacementError(f"{name}[{i}]: unknown toleration keys {unknown}")
    return tuple(value)


def _kind(kind: ComputeKind | str) -> ComputeKind:
    if isinstance(kind, ComputeKind):
        return kind
    if not isinstance(kind, str):
        raise PlacementError(f"compute kind must be 'gpu' or 'cpu', got {kind!r}")
    return _choice(ComputeKind, kind, "compute kind")


def op_tags_for(
    kind: ComputeKind | str, settings: PlacementSettings | None = None
) -> dict[str, Any]:
    """Op tags for an asset of ``kind``: compute tag, step-pod config, GPU pool.

    The same tags in every mode (the definitions do not change with the mode); in local mode
    nothing reads the Kubernetes config and the pool has no limit unless the instance sets one.
    """
    kind = _kind(kind)
    settings = settings or PlacementSettings.from_env()
    tags: dict[str, Any] = {
        COMPUTE_TAG: kind.value,
        K8S_CONFIG_TAG: settings.pod(kind).k8s_config(),
    }
    if kind is ComputeKind.GPU:
        tags[POOL_TAG] = GPU_POOL
    return tags


def run_tags_for(
    kind: ComputeKind | str,
    mode: ExecutionMode | str | None = None,
    settings: PlacementSettings | None = None,
) -> dict[str, str]:
    """Run tags for a run whose heaviest asset is ``kind`` (``gpu`` if it holds any GPU asset).

    ``coral/compute`` feeds the run queue's GPU limit. In k8s mode the run pod is placed too:
    with a pod per step the run pod only orchestrates (small CPU pod, even for GPU runs, so it
    never holds a GPU its step pods wait for); with a pod per run it executes the steps and gets
    ``kind``'s placement. Values are strings (run tags must be).
    """
    kind = _kind(kind)
    mode = execution_mode() if mode is None else _choice(ExecutionMode, str(mode), "mode")
    tags = {COMPUTE_TAG: kind.value}
    if mode is ExecutionMode.LOCAL:
        return tags
    settings = settings or PlacementSettings.from_env()
    pod = settings.run_worker if settings.pod_per is PodPer.STEP else settings.pod(kind)
    tags[K8S_CONFIG_TAG] = json.dumps(pod.k8s_config(), sort_keys=True)
    tags[MAX_RUNTIME_TAG] = str(settings.max_runtime_seconds)
    return tags


def executor_for_mode(
    mode: ExecutionMode | str, settings: PlacementSettings | None = None
) -> ExecutorDefinition:
    """``in_process_executor`` locally (and for a pod per run); else a configured k8s executor.

    The k8s executor allows at most ``max_gpu_steps`` steps tagged ``coral/compute: gpu`` at once
    within a run. ``dagster_k8s`` is imported here only, so local mode never loads it.
    """
    mode = _choice(ExecutionMode, str(mode), "mode")
    if mode is ExecutionMode.LOCAL:
        return in_process_executor
    settings = settings or PlacementSettings.from_env()
    if settings.pod_per is PodPer.RUN:
        return in_process_executor
    from dagster_k8s import k8s_job_executor

    return k8s_job_executor.configured(
        {
            "tag_concurrency_limits": [
                {
                    "key": COMPUTE_TAG,
                    "value": ComputeKind.GPU.value,
                    "limit": settings.max_gpu_steps,
                }
            ]
        },
        name="coral_k8s_job_executor",
    )
