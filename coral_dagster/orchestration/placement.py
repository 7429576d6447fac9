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

Placement knobs (env, all optional; JSON for mappings and lists, Kubernetes quantities for sizes),
read and validated by one pydantic-settings model, ``PlacementEnv``:

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
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from dagster import ExecutorDefinition, in_process_executor
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PositiveInt,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

ENV_PREFIX = "CORAL_"
MODE_ENV = f"{ENV_PREFIX}EXECUTION_MODE"

COMPUTE_TAG = "coral/compute"
# Same strings as dagster_k8s.job.USER_DEFINED_K8S_CONFIG_KEY and dagster's GLOBAL_CONCURRENCY_TAG /
# MAX_RUNTIME_SECONDS_TAG (tests assert the equality; importing them here would pull in k8s).
K8S_CONFIG_TAG = "dagster-k8s/config"
POOL_TAG = "dagster/concurrency_key"
MAX_RUNTIME_TAG = "dagster/max_runtime"
GPU_POOL = "coral-gpu"

Quantity = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, pattern=r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$"
    ),
]
ResourceName = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^\s]+$")]


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


class Toleration(BaseModel):
    """A Kubernetes toleration (camelCase or snake_case seconds, as dagster-k8s accepts)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    tolerationSeconds: int | None = None  # Kubernetes spelling
    toleration_seconds: int | None = None


class PlacementEnv(BaseSettings):
    """Every placement knob, from ``CORAL_*`` environment variables (JSON for mappings/lists)."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    execution_mode: ExecutionMode = ExecutionMode.LOCAL
    k8s_pod_per: PodPer = PodPer.STEP
    max_gpu_steps: PositiveInt = 1
    max_runtime_seconds: PositiveInt = 21600
    gpu_node_selector: dict[str, str] = Field(
        default_factory=lambda: {"nvidia.com/gpu.present": "true"}
    )
    cpu_node_selector: dict[str, str] = Field(
        default_factory=lambda: {"coral.dev/node-pool": "cpu"}
    )
    gpu_tolerations: list[Toleration] = Field(
        default_factory=lambda: [
            Toleration(key="nvidia.com/gpu", operator="Exists", effect="NoSchedule")
        ]
    )
    cpu_tolerations: list[Toleration] = Field(default_factory=list)
    gpu_resource: ResourceName = "nvidia.com/gpu"
    gpus_per_pod: PositiveInt = 1
    gpu_pod_cpu: Quantity = "4"
    gpu_pod_memory: Quantity = "32Gi"
    cpu_pod_cpu: Quantity = "2"
    cpu_pod_memory: Quantity = "4Gi"
    run_pod_cpu: Quantity = "500m"
    run_pod_memory: Quantity = "2Gi"

    @field_validator("execution_mode", "k8s_pod_per", mode="before")
    @classmethod
    def _case_insensitive(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


def read_placement_env() -> PlacementEnv:
    """``PlacementEnv`` from ``os.environ``; a bad value is a ``PlacementError`` naming the
    variable (``CORAL_MAX_GPU_STEPS='0': Input should be greater than 0``)."""
    try:
        return PlacementEnv()
    except SettingsError as err:  # a mapping or list that is not JSON
        field = str(err).split('"')[1] if '"' in str(err) else "?"
        name = f"{ENV_PREFIX}{field.upper()}"
        raise PlacementError(f"{name}: invalid JSON ({err.__cause__})") from None
    except ValidationError as err:
        first = err.errors()[0]
        loc = [str(p) for p in first["loc"]]
        name = f"{ENV_PREFIX}{loc[0].upper()}"
        where = "".join(f"[{p}]" for p in loc[1:])
        raise PlacementError(f"{name}{where}={first['input']!r}: {first['msg']}") from None


def execution_mode() -> ExecutionMode:
    """``CORAL_EXECUTION_MODE``: ``local`` (default) or ``k8s``."""
    return read_placement_env().execution_mode


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


def _tolerations(values: list[Toleration]) -> tuple[dict[str, Any], ...]:
    return tuple(t.model_dump(exclude_none=True) for t in values)


@dataclass(frozen=True)
class PlacementSettings:
    """The pods of each kind, built from ``PlacementEnv``."""

    gpu: PodPlacement
    cpu: PodPlacement
    run_worker: PodPlacement
    pod_per: PodPer
    max_gpu_steps: int
    max_runtime_seconds: int

    def pod(self, kind: ComputeKind) -> PodPlacement:
        return self.gpu if kind is ComputeKind.GPU else self.cpu

    @classmethod
    def from_env(cls, env: PlacementEnv | None = None) -> PlacementSettings:
        env = env or read_placement_env()
        gpus = str(env.gpus_per_pod)
        cpu_tolerations = _tolerations(env.cpu_tolerations)
        return cls(
            gpu=PodPlacement(
                node_selector=env.gpu_node_selector,
                tolerations=_tolerations(env.gpu_tolerations),
                requests={
                    "cpu": env.gpu_pod_cpu,
                    "memory": env.gpu_pod_memory,
                    env.gpu_resource: gpus,
                },
                limits={"memory": env.gpu_pod_memory, env.gpu_resource: gpus},
            ),
            cpu=PodPlacement(
                node_selector=env.cpu_node_selector,
                tolerations=cpu_tolerations,
                requests={"cpu": env.cpu_pod_cpu, "memory": env.cpu_pod_memory},
                limits={"memory": env.cpu_pod_memory},
            ),
            run_worker=PodPlacement(
                node_selector=env.cpu_node_selector,
                tolerations=cpu_tolerations,
                requests={"cpu": env.run_pod_cpu, "memory": env.run_pod_memory},
                limits={"memory": env.run_pod_memory},
            ),
            pod_per=env.k8s_pod_per,
            max_gpu_steps=env.max_gpu_steps,
            max_runtime_seconds=env.max_runtime_seconds,
        )


def _choice(enum: type[StrEnum], value: Any, source: str) -> Any:
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise PlacementError(f"{source}={value!r}: expected one of {allowed}") from None


def _kind(kind: ComputeKind | str) -> ComputeKind:
    if not isinstance(kind, (ComputeKind, str)):
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
    mode = execution_mode() if mode is None else _choice(ExecutionMode, mode, "mode")
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
    mode = _choice(ExecutionMode, mode, "mode")
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
