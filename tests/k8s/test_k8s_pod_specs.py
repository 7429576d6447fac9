"""The Kubernetes Jobs that dagster-k8s would submit for CORAL's GPU and CPU work, built offline.

No cluster: the real ``K8sRunLauncher`` (configured from ``k8s/dagster.yaml``) and the real
``K8sStepHandler`` of the executor from ``executor_for_mode("k8s")`` build the V1Job bodies; only
the Kubernetes API call at the very end goes to a recorder instead of an API server. The launcher
default sets a CPU node selector and the code location passes the code server's resources (as
the Helm chart's includeConfigInLaunchedRuns does), so a deep merge would leak both into GPU pods.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster._config import process_config
from dagster._core.definitions.reconstruct import ReconstructableRepository
from dagster._core.execution.api import create_execution_plan
from dagster._core.execution.context.system import PlanData, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import create_context_free_log_manager
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.init import InitExecutorContext
from dagster._core.executor.step_delegating.step_handler.base import StepHandlerContext
from dagster._core.launcher import LaunchRunContext
from dagster._core.test_utils import create_run_for_test, instance_for_test
from dagster._grpc.types import ExecuteStepArgs
from dagster_k8s import K8sRunLauncher
from dagster_k8s.client import DagsterKubernetesClient
from k8s_placement_jobs import PLACEMENT_ENV, SETTINGS

from coral_dagster.orchestration.placement import PlacementSettings, executor_for_mode, run_tags_for

K8S_DIR = Path(__file__).resolve().parents[2] / "k8s"
IMAGE = "registry.example.com/coral-dagster:0.1.0"
GPU_SELECTOR = {"nvidia.com/gpu.present": "true"}
CPU_SELECTOR = {"coral.dev/node-pool": "cpu"}
GPU_TOLERATION = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
# What the Helm chart passes from the user deployment to runs (includeConfigInLaunchedRuns).
CODE_SERVER_CONTEXT = {
    "k8s": {
        "env": [{"name": "CORAL_EXECUTION_MODE", "value": "k8s"}],
        "resources": {"requests": {"cpu": "250m", "memory": "1Gi"}, "limits": {"memory": "2Gi"}},
        "volumes": [{"name": "coral-data", "persistentVolumeClaim": {"claimName": "coral-data"}}],
        "volume_mounts": [{"name": "coral-data", "mountPath": "/mnt/coral"}],
    }
}
KUBECONFIG = """
apiVersion: v1
kind: Config
clusters: [{name: offline, cluster: {server: "https://127.0.0.1:1"}}]
users: [{name: offline, user: {token: offline}}]
contexts: [{name: offline, context: {cluster: offline, user: offline, namespace: coral}}]
current-context: offline
"""


class RecordingBatchApi:
    """Stands in for the Kubernetes API server: records the Job bodies it is asked to create."""

    def __init__(self) -> None:
        self.jobs: list[Any] = []

    def create_namespaced_job(self, body: Any, namespace: str, **_: Any) -> None:
        self.jobs.append((namespace, body))


@pytest.fixture(scope="module")
def kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("k8s") / "kubeconfig"
    path.write_text(KUBECONFIG)
    return str(path)


@pytest.fixture(scope="module")
def launcher_config(kubeconfig: str) -> dict[str, Any]:
    """``run_launcher.config`` of k8s/dagster.yaml, pointed at an offline kubeconfig."""
    config = yaml.safe_load((K8S_DIR / "dagster.yaml").read_text())["run_launcher"]["config"]
    assert config["run_k8s_config"]["pod_spec_config"]["node_selector"] == CPU_SELECTOR
    return {**config, "load_incluster_config": False, "kubeconfig_file": kubeconfig}


@pytest.fixture(scope="module")
def instance(launcher_config: dict[str, Any]):
    overrides = {
        "run_launcher": {
            "module": "dagster_k8s",
            "class": "K8sRunLauncher",
            "config": launcher_config,
        }
    }
    with instance_for_test(overrides=overrides) as instance:
        assert isinstance(instance.run_launcher, K8sRunLauncher)
        yield instance


@pytest.fixture(scope="module")
def recon_job():
    repo = ReconstructableRepository.for_module(
        "k8s_placement_jobs", "defs", working_directory=str(Path(__file__).parent)
    )
    return repo.get_reconstructable_job("__ASSET_JOB")


def job_origin(recon_job):
    origin = recon_job.get_python_origin()
    return origin._replace(
        repository_origin=origin.repository_origin._replace(
            container_image=IMAGE, container_context=CODE_SERVER_CONTEXT
        )
    )


def pod_spec(job: Any) -> dict[str, Any]:
    spec = job.spec.template.spec
    container = spec.containers[0]
    resources = container.resources.to_dict() if container.resources else {}
    return {
        "node_selector": spec.node_selector or {},
        "tolerations": [
            {k: v for k, v in t.to_dict().items() if v is not None} for t in spec.tolerations or []
        ],
        "requests": resources.get("requests") or {},
        "limits": resources.get("limits") or {},
        "volumes": [v.name for v in spec.volumes or []],
        "env": {e.name: e.value for e in container.env or []},
        "image": container.image,
    }


def k8s_executor(instance, recon_job, settings: PlacementSettings):
    """The executor Dagster builds from ``executor_for_mode("k8s")`` and its resolved config."""
    executor_def = executor_for_mode("k8s", settings)
    resolved = executor_def.config_schema.resolve_config({})
    assert resolved.success, resolved.errors
    config = resolved.value["config"]
    executor = executor_def.executor_creation_fn(
        InitExecutorContext(
            job=recon_job, executor_def=executor_def, executor_config=config, instance=instance
        )
    )
    return executor, config


def launch_steps(instance, recon_job, settings: PlacementSettings) -> dict[str, dict[str, Any]]:
    """Pod specs the k8s executor's step handler submits for each step of the asset job."""
    executor, _ = k8s_executor(instance, recon_job, settings)
    job_def = recon_job.get_definition()
    batch = RecordingBatchApi()
    handler = executor._step_handler
    # The one substitution: the API client talks to the recorder, not to an API server.
    handler._api_client = DagsterKubernetesClient.production_client(batch_api_override=batch)
    run = create_run_for_test(
        instance, job_name=job_def.name, job_code_origin=job_origin(recon_job)
    )
    plan = create_execution_plan(recon_job)
    plan_context = PlanOrchestrationContext(
        plan_data=PlanData(
            job=recon_job,
            dagster_run=run,
            instance=instance,
            execution_plan=plan,
            raise_on_error=True,
            retry_mode=RetryMode.DISABLED,
        ),
        log_manager=create_context_free_log_manager(instance, run),
        executor=executor,
        output_capture=None,
    )
    specs = {}
    for step in plan.steps:
        context = StepHandlerContext(
            instance=instance,
            plan_context=plan_context,
            steps=plan.steps,
            execute_step_args=ExecuteStepArgs(job_origin(recon_job), run.run_id, [step.key]),
            dagster_run=run,
        )
        list(handler.launch_step(context))
        namespace, body = batch.jobs[-1]
        assert namespace == "coral"
        specs[step.key] = pod_spec(body)
    return specs


def launch_run_pod(instance, recon_job, launcher_config, tags: dict[str, str]) -> dict[str, Any]:
    """Pod spec the K8sRunLauncher submits for a run carrying ``tags``."""
    processed = process_config(K8sRunLauncher.config_type(), launcher_config)
    assert processed.success, processed.errors
    batch = RecordingBatchApi()
    launcher = K8sRunLauncher(**processed.value, k8s_client_batch_api=batch)
    launcher.register_instance(instance)
    run = create_run_for_test(
        instance,
        job_name=recon_job.get_definition().name,
        job_code_origin=job_origin(recon_job),
        tags=tags,
    )
    launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    ((namespace, body),) = batch.jobs
    assert namespace == "coral"
    return pod_spec(body)


def assert_gpu_pod(spec: dict[str, Any]) -> None:
    assert spec["node_selector"] == GPU_SELECTOR  # the launcher's CPU selector did not survive
    assert spec["tolerations"] == [GPU_TOLERATION]
    assert spec["limits"] == {"memory": "32Gi", "nvidia.com/gpu": "1"}
    assert spec["requests"] == {"cpu": "4", "memory": "32Gi", "nvidia.com/gpu": "1"}


def assert_cpu_pod(spec: dict[str, Any], cpu: str, memory: str) -> None:
    assert spec["node_selector"] == CPU_SELECTOR
    assert spec["tolerations"] == []
    assert spec["requests"] == {"cpu": cpu, "memory": memory}
    assert spec["limits"] == {"memory": memory}
    assert not any("gpu" in name for name in (*spec["requests"], *spec["limits"]))


def assert_inherited(spec: dict[str, Any]) -> None:
    """What SHALLOW must keep: the code location's image, env and shared volume."""
    assert spec["image"] == IMAGE
    assert spec["env"]["CORAL_EXECUTION_MODE"] == "k8s"
    assert "coral-data" in spec["volumes"]


def test_step_pods_gpu_asset_gets_gpu_node_cpu_asset_gets_cpu_node(instance, recon_job):
    specs = launch_steps(instance, recon_job, SETTINGS)
    assert set(specs) == {"gpu_asset", "cpu_asset"}
    assert_gpu_pod(specs["gpu_asset"])
    assert_cpu_pod(specs["cpu_asset"], cpu="2", memory="4Gi")
    for spec in specs.values():
        assert_inherited(spec)


def test_deep_merge_would_have_leaked_the_cpu_selector(instance, recon_job):
    """The control: the same GPU tag without SHALLOW gets both selectors (unschedulable)."""
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import UserDefinedDagsterK8sConfig

    run = create_run_for_test(
        instance, job_name="__ASSET_JOB", job_code_origin=job_origin(recon_job)
    )
    inherited = K8sContainerContext.create_for_run(
        run, instance.run_launcher, include_run_tags=False
    )
    gpu_config = SETTINGS.gpu.k8s_config()
    deep = {k: v for k, v in gpu_config.items() if k != "merge_behavior"}
    merged_deep = inherited.merge(
        K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(deep))
    )
    merged_shallow = inherited.merge(
        K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(gpu_config))
    )
    assert merged_deep.run_k8s_config.pod_spec_config["node_selector"] == {
        **CPU_SELECTOR,
        **GPU_SELECTOR,
    }
    assert merged_shallow.run_k8s_config.pod_spec_config["node_selector"] == GPU_SELECTOR


def test_run_pod_per_step_mode_is_a_small_cpu_orchestrator_even_for_gpu_runs(
    instance, recon_job, launcher_config
):
    for kind in ("gpu", "cpu"):
        tags = run_tags_for(kind, "k8s", SETTINGS)
        spec = launch_run_pod(instance, recon_job, launcher_config, tags)
        assert_cpu_pod(spec, cpu="500m", memory="2Gi")
        assert_inherited(spec)


def test_run_pod_per_run_mode_gets_the_runs_placement(
    instance, recon_job, launcher_config, placement_from_env
):
    settings = placement_from_env({**PLACEMENT_ENV, "CORAL_K8S_POD_PER": "run"})
    gpu = launch_run_pod(instance, recon_job, launcher_config, run_tags_for("gpu", "k8s", settings))
    cpu = launch_run_pod(instance, recon_job, launcher_config, run_tags_for("cpu", "k8s", settings))
    assert_gpu_pod(gpu)
    assert_cpu_pod(cpu, cpu="2", memory="4Gi")
    assert_inherited(gpu)


def test_untagged_run_pod_keeps_the_launcher_default(instance, recon_job, launcher_config):
    """A run launched from the UI without CORAL tags: the launcher's CPU default applies."""
    spec = launch_run_pod(instance, recon_job, launcher_config, {})
    assert spec["node_selector"] == CPU_SELECTOR
    assert spec["requests"] == {"cpu": "250m", "memory": "1Gi"}  # the code server's resources


def test_k8s_executor_limits_gpu_steps_per_run(instance, recon_job, placement_from_env):
    settings = placement_from_env({**PLACEMENT_ENV, "CORAL_MAX_GPU_STEPS": "3"})
    executor, config = k8s_executor(instance, recon_job, settings)
    limits = [{"key": "coral/compute", "value": "gpu", "limit": 3}]
    assert config["tag_concurrency_limits"] == limits
    assert executor._tag_concurrency_limits == limits
