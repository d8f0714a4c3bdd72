"""The task-pod contract, from its one definition in `dags/common/contract.py`.

The DAG helpers import that file inside Airflow images that hold only `dags/`, so it is defined there and
loaded here by path: both sides use the same names and the same encoding.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from automation.core.paths import DAGS_FOLDER

CONTRACT_FILE = DAGS_FOLDER / "common" / "contract.py"


def _load() -> ModuleType:
    name = "automation_task_pod_contract"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, CONTRACT_FILE)
    assert spec is not None and spec.loader is not None, CONTRACT_FILE
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


_contract = _load()

TaskPodFacts = _contract.TaskPodFacts
DAGS_CLAIM: str = _contract.DAGS_CLAIM
DATA_CLAIM: str = _contract.DATA_CLAIM
LOGS_CLAIM: str = _contract.LOGS_CLAIM
DAGS_PATH: str = _contract.DAGS_PATH
DATA_MOUNT: str = _contract.DATA_MOUNT
UID: int = _contract.UID
GID: int = _contract.GID
COMPOSER_NAMESPACE: str = _contract.COMPOSER_NAMESPACE
XCOM_SIDECAR: str = _contract.XCOM_SIDECAR
COMPOSER_KUBE_CONFIG: str = _contract.COMPOSER_KUBE_CONFIG
KUBERNETES_CONN_ID: str = _contract.KUBERNETES_CONN_ID
XCOM_DIR: str = _contract.XCOM_DIR
XCOM_RETURN_FILE: str = _contract.XCOM_RETURN_FILE
XCOM_RETURN_ENV: str = _contract.XCOM_RETURN_ENV
GCSFUSE_ANNOTATION: str = _contract.GCSFUSE_ANNOTATION
LAUNCHER: str = _contract.LAUNCHER
NONE: str = _contract.NONE
GCS_EMULATOR: str = _contract.GCS_EMULATOR
GCS_EMULATOR_PORT: int = _contract.GCS_EMULATOR_PORT
PROJECT_LABEL: str = _contract.PROJECT_LABEL
OPERATOR_LABEL: str = _contract.OPERATOR_LABEL
CHECKED_LABEL: str = _contract.CHECKED_LABEL
KEEP_FAILED_PODS: int = _contract.KEEP_FAILED_PODS
CLOUD_POD_START_CHECK_SECONDS: float = _contract.CLOUD_POD_START_CHECK_SECONDS
emulator_env = _contract.emulator_env
never_started = _contract.never_started
not_started_reason = _contract.not_started_reason
leftovers = _contract.leftovers

# What of data/PROJECT a bucket-backed target receives from this machine (the rehearsal's seed, Composer's upload):
# the inputs; outputs are what runs write.
SEEDED_INPUT = "input"
