"""The task-pod contract: the one definition of what a target tells the DAG helpers, and of the names both
sides use. The automation package writes it (`TaskPodFacts.to_env()` becomes the Airflow components'
environment on every target); `common.utils` reads it (`TaskPodFacts.from_env()`) when a DAG file builds its
task pods. Standard library only: it must import inside any Airflow image that holds just `dags/`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

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
# Where a GCS emulator stands in for Cloud Storage (the Composer rehearsal): its Service and port.
GCS_EMULATOR = "gcs-emulator"
GCS_EMULATOR_PORT = 9023
# gcloud's KEY=VALUE lists cannot carry an empty value: "no value" is written as this word.
NONE = "none"


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
            values[f.name] = _annotations(text) if f.name == "pod_annotations" else text
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
