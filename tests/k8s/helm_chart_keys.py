"""Key paths the dagster/dagster Helm chart (1.13.x) accepts, for the sections k8s/values.yaml sets.

The chart's values.schema.json is not installed here (and dagster-k8s ships no Helm schema), so the
accepted keys are encoded from the chart's own pydantic schema sources in dagster-io/dagster,
``helm/dagster/schema/schema/charts/``:

- ``dagster/values.py`` (DagsterHelmValues): top-level sections.
- ``dagster_user_deployments/subschema/user_deployments.py`` (UserDeployments, UserDeployment).
- ``dagster/subschema/run_launcher.py`` (RunLauncher, K8sRunLauncherConfig); ``runK8sConfig`` and
  its five keys as documented in "Customizing your Kubernetes deployment" (docs.dagster.io).
- ``dagster/subschema/daemon.py`` (Daemon, RunCoordinator, QueuedRunCoordinatorConfig).
- ``dagster/subschema/concurrency.py`` (Concurrency, ConcurrencyPools, ConcurrencyRuns).
- ``dagster/subschema/postgresql.py`` (PostgreSQL), ``global_.py`` (Global).
- ``utils/kubernetes.py``: Kubernetes objects (Image, probes, volumes, resources, ...).

``dagsterDaemon.runMonitoring`` and ``runRetries`` are ``Dict[str, Any]`` in the schema; their keys
are the ones the chart's ``configmap-instance.yaml`` renders into ``run_monitoring`` /
``run_retries`` (the camelCase of Dagster's instance keys, see DAGSTER_INSTANCE_KEYS).

A closed section is a dict of its accepted keys; ``OPEN`` marks a free-form value (a Kubernetes
object or a map the chart passes through); ``[item]`` is a list whose items follow ``item``.
"""

from __future__ import annotations

from typing import Any

OPEN = "<free-form>"

IMAGE = {"repository": OPEN, "tag": OPEN, "pullPolicy": OPEN}

USER_DEPLOYMENT = {
    "name": OPEN,
    "image": IMAGE,
    "port": OPEN,
    "dagsterApiGrpcArgs": OPEN,
    "codeServerArgs": OPEN,
    "includeConfigInLaunchedRuns": {"enabled": OPEN},
    "env": OPEN,
    "envConfigMaps": OPEN,
    "envSecrets": OPEN,
    "annotations": OPEN,
    "nodeSelector": OPEN,
    "affinity": OPEN,
    "tolerations": OPEN,
    "podSecurityContext": OPEN,
    "securityContext": OPEN,
    "resources": OPEN,
    "livenessProbe": OPEN,
    "readinessProbe": OPEN,
    "startupProbe": OPEN,
    "labels": OPEN,
    "volumeMounts": OPEN,
    "volumes": OPEN,
    "schedulerName": OPEN,
}

RUN_K8S_CONFIG = {
    "containerConfig": OPEN,
    "podSpecConfig": OPEN,
    "podTemplateSpecMetadata": OPEN,
    "jobSpecConfig": OPEN,
    "jobMetadata": OPEN,
}

K8S_RUN_LAUNCHER = {
    "image": IMAGE,
    "imagePullPolicy": OPEN,
    "jobNamespace": OPEN,
    "loadInclusterConfig": OPEN,
    "kubeconfigFile": OPEN,
    "envConfigMaps": OPEN,
    "envSecrets": OPEN,
    "envVars": OPEN,
    "volumeMounts": OPEN,
    "volumes": OPEN,
    "labels": OPEN,
    "failPodOnRunFailure": OPEN,
    "resources": OPEN,
    "schedulerName": OPEN,
    "securityContext": OPEN,
    "runK8sConfig": RUN_K8S_CONFIG,
}

QUEUED_RUN_COORDINATOR = {
    "maxConcurrentRuns": OPEN,
    "tagConcurrencyLimits": [{"key": OPEN, "value": OPEN, "limit": OPEN}],
    "dequeueIntervalSeconds": OPEN,
    "dequeueNumWorkers": OPEN,
    "dequeueUseThreads": OPEN,
}

# Dagster instance keys (dagster._core.instance.config) -> the chart's camelCase value keys.
DAGSTER_INSTANCE_KEYS = {
    "runMonitoring": {
        "enabled": "enabled",
        "startTimeoutSeconds": "start_timeout_seconds",
        "cancelTimeoutSeconds": "cancel_timeout_seconds",
        "maxRuntimeSeconds": "max_runtime_seconds",
        "maxResumeRunAttempts": "max_resume_run_attempts",
        "pollIntervalSeconds": "poll_interval_seconds",
        "freeSlotsAfterRunEndSeconds": "free_slots_after_run_end_seconds",
    },
    "runRetries": {
        "enabled": "enabled",
        "maxRetries": "max_retries",
        "retryOnAssetOrOpFailure": "retry_on_asset_or_op_failure",
    },
}

DAEMON = {
    "enabled": OPEN,
    "image": IMAGE,
    "runCoordinator": {
        "enabled": OPEN,
        "type": OPEN,
        "config": {"queuedRunCoordinator": QUEUED_RUN_COORDINATOR, "customRunCoordinator": OPEN},
    },
    "heartbeatTolerance": OPEN,
    "env": OPEN,
    "envConfigMaps": OPEN,
    "envSecrets": OPEN,
    "deploymentLabels": OPEN,
    "labels": OPEN,
    "nodeSelector": OPEN,
    "affinity": OPEN,
    "tolerations": OPEN,
    "podSecurityContext": OPEN,
    "securityContext": OPEN,
    "resources": OPEN,
    "livenessProbe": OPEN,
    "readinessProbe": OPEN,
    "startupProbe": OPEN,
    "annotations": OPEN,
    "runMonitoring": dict.fromkeys(DAGSTER_INSTANCE_KEYS["runMonitoring"], OPEN),
    "runRetries": dict.fromkeys(DAGSTER_INSTANCE_KEYS["runRetries"], OPEN),
    "sensors": {"useThreads": OPEN, "numWorkers": OPEN, "numSubmitWorkers": OPEN},
    "schedules": {"useThreads": OPEN, "numWorkers": OPEN, "numSubmitWorkers": OPEN},
    "schedulerName": OPEN,
    "volumeMounts": OPEN,
    "volumes": OPEN,
}

CONCURRENCY = {
    "enabled": OPEN,
    "pools": {"defaultLimit": OPEN, "granularity": OPEN, "opGranularityRunBuffer": OPEN},
    "runs": {
        "maxConcurrentRuns": OPEN,
        "tagConcurrencyLimits": [{"key": OPEN, "value": OPEN, "limit": OPEN}],
    },
}

POSTGRESQL = {
    "postgresqlScheme": OPEN,
    "image": IMAGE,
    "enabled": OPEN,
    "postgresqlHost": OPEN,
    "postgresqlUsername": OPEN,
    "postgresqlPassword": OPEN,
    "postgresqlDatabase": OPEN,
    "postgresqlParams": OPEN,
    "service": {"port": OPEN},
}

CHART_KEYS: dict[str, Any] = {
    "dagster-user-deployments": {
        "enabled": OPEN,
        "enableSubchart": OPEN,
        "imagePullSecrets": OPEN,
        "deployments": [USER_DEPLOYMENT],
    },
    "runLauncher": {
        "type": OPEN,
        "config": {
            "k8sRunLauncher": K8S_RUN_LAUNCHER,
            "celeryK8sRunLauncher": OPEN,
            "customRunLauncher": OPEN,
        },
    },
    "dagsterDaemon": DAEMON,
    "concurrency": CONCURRENCY,
    "postgresql": POSTGRESQL,
    "generatePostgresqlPasswordSecret": OPEN,
    "global": {
        "postgresqlSecretName": OPEN,
        "dagsterHome": OPEN,
        "serviceAccountName": OPEN,
        "celeryConfigSecretName": OPEN,
        "dagsterInstanceConfigMap": OPEN,
    },
    "imagePullSecrets": OPEN,
    # Sections of DagsterHelmValues that k8s/values.yaml leaves at the chart defaults.
    "dagsterWebserver": OPEN,
    "rabbitmq": OPEN,
    "redis": OPEN,
    "flower": OPEN,
    "ingress": OPEN,
    "computeLogManager": OPEN,
    "scheduler": OPEN,
    "pythonLogs": OPEN,
    "busybox": OPEN,
    "migrate": OPEN,
    "telemetry": OPEN,
    "serviceAccount": OPEN,
    "retention": OPEN,
    "additionalInstanceConfig": OPEN,
}


def unknown_keys(values: Any, schema: Any = CHART_KEYS, path: str = "") -> list[str]:
    """Dotted paths in ``values`` that ``schema`` does not accept (empty when all are accepted)."""
    if schema is OPEN:
        return []
    if isinstance(schema, list):
        if not isinstance(values, list):
            return [f"{path}: expected a list, got {type(values).__name__}"]
        return [
            problem
            for i, item in enumerate(values)
            for problem in unknown_keys(item, schema[0], f"{path}[{i}]")
        ]
    if not isinstance(values, dict):
        return [f"{path}: expected a mapping, got {type(values).__name__}"]
    problems = []
    for key, value in values.items():
        where = f"{path}.{key}" if path else key
        if key not in schema:
            problems.append(f"{where}: not a key the chart accepts")
        else:
            problems.extend(unknown_keys(value, schema[key], where))
    return problems
