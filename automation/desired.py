"""What a target needs on its cluster: volumes, Airflow's secrets, project objects and the chart values."""

from __future__ import annotations

from typing import Any

from automation import secrets
from automation.manifests import HostPathVolume, Namespace
from automation.settings import Target
from automation.versions import VERSIONS

# The names task pods use, identical on every target: each target decides what backs them.
DAGS_CLAIM = "airflow-dags"
DATA_CLAIM = "airflow-data"
LOGS_CLAIM = "airflow-logs"
DAGS_PATH = "/opt/airflow/dags"
AIRFLOW_IMAGE = f"apache/airflow:{VERSIONS.airflow}"


def namespace(target: Target) -> Namespace:
    return Namespace(target.namespace)


def volumes(target: Target) -> list[HostPathVolume]:
    """Local clusters: logs on a node-native folder, DAGs and data on the node's mounts of this machine."""
    if not target.is_local_cluster or target.mounts is None:
        return []
    return [
        HostPathVolume(LOGS_CLAIM, target.namespace, target.logs.node_path, target.logs.size),
        HostPathVolume(DAGS_CLAIM, target.namespace, target.mounts.dags.node, "1Gi", "ReadOnlyMany", "Directory"),
        HostPathVolume(DATA_CLAIM, target.namespace, target.mounts.data.node, "10Gi", "ReadWriteMany", "Directory"),
    ]


def node_folders(target: Target) -> list[str]:
    """Node folders that must exist and be writable by uid 50000: logs, and each project's data folder."""
    if target.mounts is None:
        return []
    data = target.mounts.data.node.rstrip("/")
    return [target.logs.node_path, *(f"{data}/{project}" for project in target.projects)]


def task_env(target: Target) -> dict[str, str]:
    """The target's facts that DAG helpers read (dags/common/utils): the DAG files stay identical."""
    claims = target.is_local_cluster or target.provider == "gke"  # GKE backs the same claims with buckets
    env = {
        "AUTOMATION_TARGET": target.name,
        "AUTOMATION_NAMESPACE": target.namespace,
        "AUTOMATION_DATA_ROOT": target.data_root,
        "AUTOMATION_DAGS_CLAIM": DAGS_CLAIM if claims else "",
        "AUTOMATION_DATA_CLAIM": DATA_CLAIM if claims else "",
        "AUTOMATION_IMAGE_REGISTRY": target.images.registry or "",
    }
    if target.provider == "gke":
        from automation.cloud import gke_task_env  # the cloud specifics live with the cloud providers

        env.update(gke_task_env(target))
    return env


def chart_values(target: Target) -> dict[str, Any]:
    """Values generated from the settings; the common and per-target files hold the rest."""
    core = secrets.core_secret_name(target)
    values: dict[str, Any] = {
        "executor": "KubernetesExecutor",
        "airflowVersion": VERSIONS.airflow,
        "defaultAirflowTag": VERSIONS.airflow,
        "fernetKeySecretName": core,
        "apiSecretKeySecretName": core,
        "jwtSecretName": core,
        "webserverSecretKeySecretName": core,
        "env": [{"name": k, "value": v} for k, v in task_env(target).items()],
    }
    if target.is_local_cluster:
        values["logs"] = {"persistence": {"enabled": True, "existingClaim": LOGS_CLAIM}}
        # The chart mounts a DAG claim read-write; mounting ours through the global volumes keeps it read-only.
        values["volumes"] = [{"name": "dags-ro", "persistentVolumeClaim": {"claimName": DAGS_CLAIM, "readOnly": True}}]
        values["volumeMounts"] = [{"name": "dags-ro", "mountPath": DAGS_PATH, "readOnly": True}]
    if target.login.password:
        values["createUserJob"] = {"defaultUser": {"username": target.login.username,
                                                   "password": target.login.password}}
    if target.database.mode == "external":
        values["postgresql"] = {"enabled": False}
        values["data"] = {"metadataSecretName": secrets.metadata_secret_name(target)}
    if target.provider == "gke":
        from automation.cloud import gke_chart_values

        values.update(gke_chart_values(target))
    for component in target.disable:
        values[component] = {"enabled": False}
    return values
