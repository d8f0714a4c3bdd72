"""Helpers every DAG uses: one call gives a task pod that runs the same on Minikube, an existing cluster, GKE
and Cloud Composer.

    from common.utils import project_dag, project_task

    with project_dag("example1", "example1", output="output/summary.csv"):
        project_task("example1", "extract", "example1/scripts/extract.py", image="pandas-basic")

The target's facts come from AUTOMATION_* variables set on every Airflow component, defined once in
`common/contract.py` (the automation package writes them from the same definition), so DAG files never name a
target. The DAG processor imports this module
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
    from airflow.sdk import DAG

    from common.utils.project_pod import ProjectPodOperator

__all__ = [
    "DAGS_PATH",
    "DEFAULT_RESOURCES",
    "START_DATE",
    "data_root",
    "image_ref",
    "pod_timing",
    "project_dag",
    "project_task",
]

from common.contract import DAGS_PATH, DATA_MOUNT, GID, UID, TaskPodFacts, emulator_env

# A fixed date: a moving one (now() - 1 day) changes the DAG at every parse.
START_DATE = _dt.datetime(2025, 1, 1, tzinfo=_dt.UTC)
DEFAULT_RESOURCES: dict[str, dict[str, str]] = {
    "requests": {"cpu": "100m", "memory": "256Mi"},
    "limits": {"cpu": "1", "memory": "1Gi"},
}
IMAGES_FILE = Path(__file__).resolve().parent.parent / "images.json"


def facts() -> TaskPodFacts:
    """This target's task-pod facts, from the Airflow component's environment (the local ones when unset)."""
    return TaskPodFacts.from_env(os.environ)


def data_root(project: str) -> str:
    """Where the project's data lives as its tasks see it: a folder in the pod, or gs://BUCKET/PROJECT."""
    root = facts().data_root or DATA_MOUNT
    return f"{root.rstrip('/')}/{project}"


@lru_cache(maxsize=1)
def _image_tags() -> dict[str, str]:
    try:
        tags = json.loads(IMAGES_FILE.read_text())
    except FileNotFoundError:
        raise RuntimeError(f"{IMAGES_FILE} is missing: run `nox -s images`") from None
    except ValueError as exc:
        raise RuntimeError(f"{IMAGES_FILE} is not valid JSON ({exc}): restore it with "
                           "`git checkout dags/common/images.json`, or run `nox -s images`") from None
    if not isinstance(tags, dict):
        raise RuntimeError(f"{IMAGES_FILE}: expected a JSON object of image name -> tag")
    return {str(k): str(v) for k, v in tags.items()}


def image_ref(name: str) -> str:
    """The worker image's reference, tagged with the content tag `nox -s images` wrote."""
    tags = _image_tags()
    if name not in tags:
        raise ValueError(f"unknown image {name!r}: expected one of {sorted(tags)} (folders under images/)")
    registry = facts().image_registry.rstrip("/")
    return f"{registry}/{name}:{tags[name]}" if registry else f"{name}:{tags[name]}"


def pod_timing(target: TaskPodFacts) -> dict[str, Any]:
    """How often the operator checks whether its pod has started: the target's `pod_start_check_seconds`.

    The provider's default (5 s) left a task waiting 4.3-4.6 s (median) for a pod already running, on each task
    (benchmarks/task_time.py). A check is one read of the pod (and of its events, which go into the task's log):
    the interval changes when the start is noticed, not what is decided (the schedule and start-up timeouts are
    separate settings, unchanged). Local and existing clusters read every 0.25 s, cloud targets every second
    (common.contract says why; the parity table names it).
    """
    return {"startup_check_interval_seconds": target.pod_start_check_seconds}


def _label(value: str) -> str:
    """A valid label value (<= 63 characters of [A-Za-z0-9._-], alphanumeric at both ends)."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in value)[:63]
    return cleaned.strip("._-") or "none"


def _pod_name(value: str) -> str:
    """A valid pod name stem (lowercase RFC 1123: the API server refuses "example-db-write_rows")."""
    cleaned = "".join(c if c.isalnum() or c in ".-" else "-" for c in value.lower())[:50]
    return cleaned.strip(".-") or "task"


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
    xcom: bool = False,
    **operator_kwargs: Any,
) -> ProjectPodOperator:
    """A KubernetesPodOperator (ProjectPodOperator) running the task script SCRIPT with ARGS in a worker image.

    The image's launcher (contract.LAUNCHER) runs the script from the target's code root: the DAGs folder
    mounted in the pod (local targets, GKE: an edited script is used by the next run, no rebuild), or the
    environment bucket's dags/ folder, fetched at start (Cloud Composer 3, where pods get no volumes).

    project: the name of the project's ConfigMap, Secret and data folder (k8s/PROJECT, data/PROJECT).
    script: path of the script under the DAGs folder, e.g. "example1/scripts/extract.py".
    image: a worker image under images/ ("pandas-basic", "notebook", ...).
    args: the script's arguments (templated: "{{ run_id }}" works).
    resources: {"requests": {...}, "limits": {...}}, merged over DEFAULT_RESOURCES.
    env: extra plain variables. Never put a secret here: secret values belong in k8s/PROJECT/secret.env.
    xcom: the script's result becomes the task's XCom (return_value): the script writes JSON to the file named
        by $XCOM_RETURN_FILE (contract.XCOM_RETURN_FILE), which the provider's XCom sidecar reads; a later task
        takes it as a templated argument, "{{ ti.xcom_pull(task_ids='TASK') | tojson }}".
    operator_kwargs: passed to the operator as they are (retries, dag, keep_failed_pods, ...).
    """
    from kubernetes.client import models as k8s

    from common.contract import KUBERNETES_CONN_ID, LAUNCHER, PROJECT_LABEL, XCOM_RETURN_ENV, XCOM_RETURN_FILE
    from common.utils.project_pod import ProjectPodOperator

    if script.startswith("/") or ".." in Path(script).parts:
        raise ValueError(f"script {script!r}: expected a path relative to the DAGs folder")
    target = facts()
    volumes: list[k8s.V1Volume] = []
    mounts: list[k8s.V1VolumeMount] = []
    # No claim name: the target provides these paths another way (Composer: buckets), so no volume.
    if target.dags_claim:
        volumes.append(k8s.V1Volume(name="dags", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
            claim_name=target.dags_claim, read_only=True)))
        mounts.append(k8s.V1VolumeMount(name="dags", mount_path=DAGS_PATH, read_only=True))
    if target.data_claim:
        volumes.append(k8s.V1Volume(name="data", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(
            claim_name=target.data_claim)))
        # subPath: a task sees its own project's data and nothing else.
        mounts.append(k8s.V1VolumeMount(name="data", mount_path=f"{DATA_MOUNT}/{project}", sub_path=project))

    # emulator_env is empty except where a GCS emulator stands in for Cloud Storage (the Composer rehearsal).
    plain = {"DATA_ROOT": data_root(project), "PROJECT": project, **emulator_env(target.storage_emulator_host)}
    # do_xcom_push given directly means the same as xcom=True: either way the sidecar must run the task's image.
    xcom = bool(xcom or operator_kwargs.pop("do_xcom_push", False))
    if xcom:
        plain[XCOM_RETURN_ENV] = XCOM_RETURN_FILE
    env_vars = [k8s.V1EnvVar(name=k, value=v) for k, v in {**plain, **(env or {})}.items()]
    # optional: a project without a ConfigMap or a Secret still runs.
    env_from = [k8s.V1EnvFromSource(config_map_ref=k8s.V1ConfigMapEnvSource(name=project, optional=True)),
                k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name=project, optional=True))]

    dag_id = _current_dag_id(operator_kwargs.get("dag"))
    labels = {PROJECT_LABEL: _label(project), "task": _label(task_id)}
    if dag_id:
        labels["dag"] = _label(dag_id)

    defaults: dict[str, Any] = {
        "namespace": target.namespace or "airflow",
        "service_account_name": target.service_account or "default",
        "annotations": dict(target.pod_annotations),
        # Failed pods that ran stay, for `kubectl logs/describe`, up to keep_failed_pods per project; a pod that never
        # started is deleted whatever this says (ProjectPodOperator).
        "on_finish_action": "delete_succeeded_pod",
        "keep_failed_pods": target.keep_failed_pods,
        # The pod's container log and, on failure, its events go into the task's log: both outlive the pod.
        "get_logs": True,
        "log_events_on_failure": True,
        "image_pull_policy": "IfNotPresent",
        # How the worker reaches the cluster: Composer's kubeconfig file where the target has one (Google's
        # samples pass both), else the worker's in-cluster identity. The parity check reports a task that
        # overrides either.
        "config_file": target.kube_config_file or None,
        "kubernetes_conn_id": KUBERNETES_CONN_ID,
        **pod_timing(target),
    }
    operator: type[ProjectPodOperator] = ProjectPodOperator
    if xcom:
        from common.utils.xcom_pod import XComPodOperator

        operator = XComPodOperator
    return operator(
        task_id=task_id,
        name=_pod_name(f"{project}-{task_id}"),
        image=image_ref(image),
        cmds=["python", LAUNCHER, "--code-root", target.code_root or DAGS_PATH, script],
        arguments=list(args or []),
        env_vars=env_vars,
        env_from=env_from,
        volumes=volumes,
        volume_mounts=mounts,
        container_resources=_resources(resources),
        labels=labels,
        security_context=k8s.V1PodSecurityContext(
            run_as_non_root=True, run_as_user=UID, run_as_group=GID,
            seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault")),
        container_security_context=k8s.V1SecurityContext(
            run_as_non_root=True, run_as_user=UID, run_as_group=GID, allow_privilege_escalation=False,
            capabilities=k8s.V1Capabilities(drop=["ALL"])),
        do_xcom_push=xcom,
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
    kwargs: dict[str, Any] = {"catchup": False, "start_date": START_DATE, **dag_kwargs}
    # schedule named in the call: Airflow's AIR002 rule (ruff) cannot see it inside **kwargs.
    schedule = kwargs.pop("schedule", None)
    return DAG(
        dag_id,
        schedule=schedule,
        description=description,
        tags=[f"project:{project}", *tags],
        params={"output": output, **(params or {})},
        **kwargs,
    )
