"""The task-pod contract: the one definition of what a target tells the DAG helpers, and of the names both
sides use. The automation package writes it (`TaskPodFacts.to_env()` becomes the Airflow components'
environment on every target); `common.utils` reads it (`TaskPodFacts.from_env()`) when a DAG file builds its
task pods. Also the one rule of which task pods are leftovers (`leftovers`): the operator applies it when its
task ends, `prune` and `doctor` on the cluster. Standard library only: it must import inside any Airflow image
that holds just `dags/`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

# Names task pods use, the same on every target: each target decides what backs them.
DAGS_CLAIM = "airflow-dags"
DATA_CLAIM = "airflow-data"
LOGS_CLAIM = "airflow-logs"
DAGS_PATH = "/opt/airflow/dags"
DATA_MOUNT = "/data"
UID = 50000
GID = 0
# Cloud Composer 3 runs every KubernetesPodOperator pod in this namespace, with one sidecar at most: this one.
COMPOSER_NAMESPACE = "composer-user-workloads"
XCOM_SIDECAR = "airflow-xcom-sidecar"
# A task's XCom: the file its script writes (JSON), where that sidecar reads it (the provider's
# PodDefaults.XCOM_MOUNT_PATH) and `nox -s task` reads it locally; project_task(xcom=True) gives the script its
# path in the variable XCOM_RETURN_ENV.
XCOM_DIR = "/airflow/xcom"
XCOM_RETURN_FILE = f"{XCOM_DIR}/return.json"
XCOM_RETURN_ENV = "XCOM_RETURN_FILE"
# GKE's GCS Fuse CSI driver mounts bucket-backed volumes only into pods carrying this annotation.
GCSFUSE_ANNOTATION = "gke-gcsfuse/volumes"
# Every worker image carries the launcher (images/launcher/launch.py): it runs a task script from the code
# root, a folder in the pod (the DAGs mount) or gs://BUCKET/dags (Composer), fetched at start.
LAUNCHER = "/opt/automation/launch.py"
# How Composer's workers reach the cluster that runs task pods: Google's Composer samples give every
# KubernetesPodOperator this kubeconfig file (it exists on Composer's workers) and connection id; the Composer
# rehearsal puts a kubeconfig at the same path on its workers. Other targets give no file: in-cluster identity.
COMPOSER_KUBE_CONFIG = "/home/airflow/composer_kube_config"
KUBERNETES_CONN_ID = "kubernetes_default"
# Where a GCS emulator stands in for Cloud Storage (the Composer rehearsal): its Service and port.
GCS_EMULATOR = "gcs-emulator"
GCS_EMULATOR_PORT = 9023
# gcloud's KEY=VALUE lists cannot carry an empty value: "no value" is written as this word.
NONE = "none"
# Labels of task pods: `project_task` sets PROJECT_LABEL (with "dag" and "task"); the provider's operator sets
# OPERATOR_LABEL=True on every pod it makes and CHECKED_LABEL=True on one its task is done with (not succeeded).
PROJECT_LABEL = "project"
OPERATOR_LABEL = "kubernetes_pod_operator"
CHECKED_LABEL = "already_checked"
# Failed task pods that ran, kept per project for `kubectl logs/describe` (the newest ones); their log and events
# are in the task's log either way. A target's `keep_failed_pods` setting overrides it.
KEEP_FAILED_PODS = 3
# How often a task's operator reads its pod while the pod starts (the provider's startup_check_interval_seconds,
# whose default is 5 s; each read is one GET of the pod and one list of its events). On a local or existing
# cluster a pod runs about 0.7 s after it is made, and a quarter-second read notices it within 0.125 s on average
# (1 s: 0.5 s, on every task; benchmarks/task_time.py). Cloud targets keep one read a second: there a pod may wait
# minutes for a node or an image, and many tasks start at once, all reading one managed API server.
POD_START_CHECK_SECONDS = 0.25
CLOUD_POD_START_CHECK_SECONDS = 1.0


@dataclass(frozen=True)
class TaskPodFacts:
    """A target's facts about task pods. Defaults are the local target's, so a DAG parses anywhere."""

    target: str = "local"
    namespace: str = "airflow"
    # Where a project's data lives as tasks see it: a folder in the pod, or gs://BUCKET.
    data_root: str = DATA_MOUNT
    # Where task scripts are read from: the DAGs mount, or gs://BUCKET/dags.
    code_root: str = DAGS_PATH
    # Claims mounted into task pods; "" when the target has none (Composer).
    dags_claim: str = DAGS_CLAIM
    data_claim: str = DATA_CLAIM
    service_account: str = "default"
    pod_annotations: Mapping[str, str] = field(default_factory=dict)
    image_registry: str = ""
    # Only where a GCS emulator stands in for Cloud Storage (the Composer rehearsal); "" everywhere else.
    storage_emulator_host: str = ""
    # The kubeconfig file task pods are started with (COMPOSER_KUBE_CONFIG on Composer and its rehearsal); ""
    # means the worker's in-cluster identity.
    kube_config_file: str = ""
    keep_failed_pods: int = KEEP_FAILED_PODS
    pod_start_check_seconds: float = POD_START_CHECK_SECONDS

    @staticmethod
    def env_name(field_name: str) -> str:
        return f"AUTOMATION_{field_name.upper()}"

    @classmethod
    def env_names(cls) -> list[str]:
        return [cls.env_name(f.name) for f in fields(cls)]

    def to_env(self) -> dict[str, str]:
        """Every fact as an environment variable (all of them, always: an absent one would mean "default")."""
        env = {}
        for f in fields(self):
            value = getattr(self, f.name)
            text = json.dumps(dict(value), sort_keys=True) if f.name == "pod_annotations" else str(value)
            env[self.env_name(f.name)] = text if text not in ("", "{}") else NONE
        return env

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> TaskPodFacts:
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = environ.get(cls.env_name(f.name))
            if raw is None:
                continue
            text = "" if raw == NONE else raw
            if f.name == "pod_annotations":
                values[f.name] = _annotations(text)
            elif isinstance(f.default, float):
                values[f.name] = _seconds(cls.env_name(f.name), text)
            elif isinstance(f.default, int):
                values[f.name] = _count(cls.env_name(f.name), text)
            else:
                values[f.name] = text
        return cls(**values)  # type: ignore[arg-type]


def emulator_env(endpoint: str) -> dict[str, str]:
    """What a GCS client needs to use the emulator at `endpoint` instead of Cloud Storage: the one difference
    between the Composer rehearsal and Composer. Task pods get it (common.utils) and so does this machine when
    it seeds the buckets and reads a run's output (automation.providers.rehearsal): one definition for both."""
    if not endpoint:
        return {}
    return {
        "STORAGE_EMULATOR_HOST": endpoint,
        # No metadata server to ask for credentials: without this, gcsfs probes 169.254.169.254 first.
        "NO_GCE_CHECK": "true",
        # The emulator has no hierarchical-namespace API for gcsfs to probe.
        "GCSFS_EXPERIMENTAL_ZB_HNS_SUPPORT": "false",
    }


def never_started(pod: Mapping[str, Any]) -> bool:
    """No container of the pod (as the API gives it: camelCase) ever ran: it is still Pending (not scheduled, its
    image not pulled, a volume not mounted) or ended before one started (evicted, refused by the kubelet). Such a
    pod has no log to keep, and a Pending one holds its requests on the node for as long as it exists."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Running", "Succeeded"):
        return False
    for container in status.get("containerStatuses") or []:
        state, last = container.get("state") or {}, container.get("lastState") or {}
        if state.get("running") or state.get("terminated") or last.get("terminated"):
            return False
    return True


def not_started_reason(pod: Mapping[str, Any]) -> str:
    """Why a pod has not started, in the cluster's words: a container's waiting reason (ImagePullBackOff), the
    scheduler's (Unschedulable), or the pod's phase."""
    status = pod.get("status") or {}
    for container in status.get("containerStatuses") or []:
        reason = ((container.get("state") or {}).get("waiting") or {}).get("reason")
        if reason and reason != "ContainerCreating":
            return str(reason)
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return str(condition.get("reason") or "not scheduled")
    return str(status.get("reason") or status.get("phase") or "Pending")


def leftovers(pods: Sequence[Mapping[str, Any]], keep_failed: int) -> list[tuple[Mapping[str, Any], str]]:
    """Which of one project's task pods, all of them pods their task is done with, to delete, each with why: every
    pod that never started, and the failed ones beyond the newest `keep_failed`. Pods being deleted are left out;
    succeeded ones are not touched (the operator deletes them, unless its DAG asked to keep them)."""
    live = [p for p in pods if not (p.get("metadata") or {}).get("deletionTimestamp")]
    doomed = [(p, f"never started ({not_started_reason(p)})") for p in live if never_started(p)]
    failed = [p for p in live if (p.get("status") or {}).get("phase") == "Failed" and not never_started(p)]
    failed.sort(key=lambda p: str((p.get("metadata") or {}).get("creationTimestamp") or ""), reverse=True)
    why = f"failed, older than the newest {keep_failed} kept" if keep_failed else "failed"
    doomed += [(p, why) for p in failed[keep_failed:]]
    return doomed


def _count(name: str, text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"{name}: expected a whole number >= 0, got {text!r}")
    return int(text)


def _seconds(name: str, text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ValueError(f"{name}: expected a number of seconds > 0, got {text!r}")
    return seconds


def _annotations(text: str) -> dict[str, str]:
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError(f"{TaskPodFacts.env_name('pod_annotations')}: expected a JSON object, got {text!r}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{TaskPodFacts.env_name('pod_annotations')}: expected a JSON object, got {text!r}")
    return {str(k): str(v) for k, v in data.items()}
