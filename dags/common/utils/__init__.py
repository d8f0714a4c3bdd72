"""Helpers every DAG uses: one call gives a task pod that runs the same on Minikube, an existing cluster, GKE
and Cloud Composer.

    from common.utils import project_dag, project_task

    with project_dag("example1", "example1", output="output/summary.csv"):
        project_task("example1", "extract", "example1/scripts/extract.py", image="pandas-basic")

The target's facts come from AUTOMATION_* variables that the chart sets on every Airflow component
(automation/desired.py `task_env`), so DAG files never name a target. The DAG processor imports this module
for every DAG file: nothing heavy is imported at module level (Airflow and the Kubernetes models are imported
inside the functions, where the DAG file is already paying for them).
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from airflow.sdk import DAG

__all__ = [
    "DAGS_PATH",
    "DEFAULT_RESOURCES",
    "START_DATE",
    "data_root",
    "image_ref",
    "project_dag",
    "project_task",
]

DAGS_PATH = "/opt/airflow/dags"
DATA_MOUNT = "/data"
UID = 50000
# A fixed date: a moving one (now() - 1 day) changes the DAG at every parse.
START_DATE = _dt.datetime(2025, 1, 1, tzinfo=_dt.UTC)
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}
IMAGES_FILE = Path(__file__).resolve().parent.parent / "images.json"


def _env(name: str, default: str) -> str:
    """The variable's value, the default when unset; an empty value is kept (it means "none" on cloud targets)."""
    value = os.environ.get(name)
    return default if value is None else value


def data_root(project: str) -> str:
    """Where the project's data lives as its tasks see it: a folder in the pod, or gs://BUCKET/PROJECT."""
    root = os.environ.get("AUTOMATION_DATA_ROOT") or DATA_MOUNT
    return f"{root.rstrip('/')}/{project}"


@lru_cache(maxsize=1)
def _image_tags() -> dict[str, str]:
    try:
        tags = json.loads(IMAGES_FILE.read_text())
    except FileNotFoundError:
        raise RuntimeError(f"{IMAGES_FILE} is missing: run `nox -s images`") from None
    if not isinstance(tags, dict):
        raise RuntimeError(f"{IMAGES_FILE}: expected a JSON object of image name -> tag")
    return {str(k): str(v) for k, v in tags.items()}


def image_ref(name: str) -> str:
    """The worker image's reference, tagged with the content tag `nox -s images` wrote."""
    tags = _image_tags()
    if name not in tags:
        raise ValueError(f"unknown image {name!r}: expected one of {sorted(tags)} (folders under images/)")
    registry = os.environ.get("AUTOMATION_IMAGE_REGISTRY", "").rstrip("/")
    return f"{registry}/{name}:{tags[name]}" if registry else f"{name}:{tags[name]}"


def _label(value: str) -> str:
    """A valid label value (<= 63 characters of [A-Za-z0-9._-], alphanumeric at both ends)."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in value)[:63]
    return cleaned.strip("._-") or "none"


def _resources(resources: Any) -> Any:
    from kubernetes.client import models as k8s

    if resources is None:
        resources = DEFAULT_RESOURCES
    if isinstance(resources, k8s.V1ResourceRequirements):
        return resources
    if not isinstance(resources, Mapping) or set(resources) - {"requests", "limits"}:
        raise ValueError("resources: expected {'requests': {...}, 'limits': {...}} or V1ResourceRequirements")
    merged = {kind: {**DEFAULT_RESOURCES[kind], **dict(resources.get(kind) or {})} for kind in DEFAULT_RESOURCES}
    return k8s.V1ResourceRequirements(requests=merged["requests"], limits=merged["limits"])


def _current_dag_id(dag: Any) -> str | None:
    if dag is None:
        from airflow.sdk.definitions._internal.contextmanager import DagContext

        dag = DagContext.get_current()
    return getattr(dag, "dag_id", None)


def project_task(
    project: str,
    task_id: str,
    script: str,
    image: str = "pandas-basic",
    args: Sequence[str] | None = None,
    resources: Mapping[str, Mapping[str, str]] | Any = None,
    env: Mapping[str, str] | None = None,
    **operator_kwargs: Any,
) -> KubernetesPodOperator:
    """A KubernetesPodOperator running `python /opt/airflow/dags/SCRIPT ARGS` in a worker image.

    project: the name of the project's ConfigMap, Secret and data folder (k8s/PROJECT, data/PROJECT).
    script: path of the script under the DAGs folder, e.g. "example1/scripts/extract.py".
    image: a worker image under images/ ("pandas-basic", "notebook", ...).
    args: the script's arguments (templated: "{{ run_id }}" works).
    resources: {"requests": {...}, "limits": {...}}, merged over DEFAULT_RESOURCES.
    env: extra plain variables. Never put a secret here: secret values belong in k8s/PROJECT/secret.env.
    operator_kwargs: passed to KubernetesPodOperator as they are (retries, dag, ...).
    """
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import models as k8s

    if script.startswith("/") or ".." in Path(script).parts:
        raise ValueError(f"script {script!r}: expected a path relative to the DAGs folder")
    volumes: list[k8s.V1Volume] = []
    mounts: list[k8s.V1VolumeMount] = []
    # Empty claim names mean the target provides these paths another way (cloud targets): no volume then.
    dags_claim = _env("AUTOMATION_DAGS_CLAIM", "airflow-dags")
    if dags_claim:
        volumes.append(k8s.V1Volume(name="dags", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
            claim_name=dags_claim, read_only=True)))
        mounts.append(k8s.V1VolumeMount(name="dags", mount_path=DAGS_PATH, read_only=True))
    data_claim = _env("AUTOMATION_DATA_CLAIM", "airflow-data")
    if data_claim:
        volumes.append(k8s.V1Volume(name="data", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
            claim_name=data_claim)))
        # subPath: a task sees its own project's data and nothing else.
        mounts.append(k8s.V1VolumeMount(name="data", mount_path=f"{DATA_MOUNT}/{project}", sub_path=project))

    env_vars = [k8s.V1EnvVar(name="DATA_ROOT", value=data_root(project)),
                k8s.V1EnvVar(name="PROJECT", value=project)]
    env_vars += [k8s.V1EnvVar(name=k, value=v) for k, v in (env or {}).items()]
    # optional: a project without a ConfigMap or a Secret still runs.
    env_from = [k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name=project, optional=True)),
                k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=project, optional=True))]

    dag_id = _current_dag_id(operator_kwargs.get("dag"))
    labels = {"project": _label(project), "task": _label(task_id)}
    if dag_id:
        labels["dag"] = _label(dag_id)

    defaults: dict[str, Any] = {
        "namespace": _env("AUTOMATION_NAMESPACE", "airflow") or "airflow",
        "service_account_name": _env("AUTOMATION_TASK_SERVICE_ACCOUNT", "default") or "default",
        "on_finish_action": "delete_succeeded_pod",  # failed pods stay, for `kubectl logs/describe`
        "get_logs": True,
        "image_pull_policy": "IfNotPresent",
    }
    return KubernetesPodOperator(
        task_id=task_id,
        name=_label(f"{project}-{task_id}"),
        image=image_ref(image),
        cmds=["python", f"{DAGS_PATH}/{script}"],
        arguments=list(args or []),
        env_vars=env_vars,
        env_from=env_from,
        volumes=volumes,
        volume_mounts=mounts,
        container_resources=_resources(resources),
        labels=labels,
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True, run_as_user=UID, run_as_group=0,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault")),
        container_security_context=k8s.V1SecurityContext(
            run_as_non_root=True, run_as_user=UID, run_as_group=0, allow_privilege_escalation=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"])),
        **{**defaults, **operator_kwargs},
    )


def project_dag(project: str, dag_id: str, output: str, *, description: str | None = None,
                tags: Sequence[str] = (), params: Mapping[str, Any] | None = None, **dag_kwargs: Any) -> DAG:
    """A DAG following the conventions the e2e checker relies on.

    output: the result file, relative to the project's data root ("output/summary.csv"): DAG param "output".
    Tagged "project:PROJECT"; manual runs only (schedule None), no catchup, fixed start date.
    """
    from airflow.sdk import DAG

    if output.startswith("/") or "://" in output:
        raise ValueError(f"output {output!r}: expected a path relative to the project's data root")
    kwargs: dict[str, Any] = {"schedule": None, "catchup": False, "start_date": START_DATE, **dag_kwargs}
    return DAG(
        dag_id,
        description=description,
        tags=[f"project:{project}", *tags],
        params={"output": output, **(params or {})},
        **kwargs,
    )
