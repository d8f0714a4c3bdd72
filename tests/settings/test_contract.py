"""The task-pod contract: facts survive the trip through environment variables, and the automation package uses
the very class `dags/common/contract.py` defines."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import sys

import pytest

from automation.core.paths import DAGS_FOLDER
from automation.settings import contract
from automation.settings.contract import NONE, TaskPodFacts

CONTRACT_FILE = DAGS_FOLDER / "common" / "contract.py"

EXAMPLES = [
    TaskPodFacts(),
    TaskPodFacts(target="gke", service_account="airflow-tasks", pod_annotations={"gke-gcsfuse/volumes": "true"},
                 image_registry="europe-west1-docker.pkg.dev/p/airflow"),
    TaskPodFacts(target="composer", namespace="composer-user-workloads", data_root="gs://data", code_root="gs://b/dags",
                 dags_claim="", data_claim="", storage_emulator_host="127.0.0.1:9023"),
    TaskPodFacts(pod_annotations={"a": "x=y,z", "b/c": "{\"json\": 1}"}),
]


@pytest.mark.parametrize("facts", EXAMPLES)
def test_round_trip_through_the_environment(facts: TaskPodFacts) -> None:
    env = facts.to_env()
    assert all(isinstance(v, str) and v for v in env.values()), env  # gcloud lists cannot carry empty values
    assert TaskPodFacts.from_env(env) == facts


def test_empty_values_are_written_as_none_and_read_back_empty() -> None:
    facts = TaskPodFacts(dags_claim="", data_claim="", image_registry="")
    env = facts.to_env()
    assert env["AUTOMATION_DAGS_CLAIM"] == env["AUTOMATION_DATA_CLAIM"] == env["AUTOMATION_IMAGE_REGISTRY"] == NONE
    assert env["AUTOMATION_POD_ANNOTATIONS"] == NONE
    back = TaskPodFacts.from_env(env)
    assert (back.dags_claim, back.data_claim, back.image_registry, dict(back.pod_annotations)) == ("", "", "", {})


def test_pod_annotations_are_sorted_json() -> None:
    env = TaskPodFacts(pod_annotations={"z": "1", "a": "2"}).to_env()
    assert env["AUTOMATION_POD_ANNOTATIONS"] == '{"a": "2", "z": "1"}'


@pytest.mark.parametrize("bad", ["{not json", "[1, 2]", '"text"'])
def test_bad_annotations_json_raises_value_error_naming_the_variable(bad: str) -> None:
    with pytest.raises(ValueError, match="AUTOMATION_POD_ANNOTATIONS: expected a JSON object"):
        TaskPodFacts.from_env({"AUTOMATION_POD_ANNOTATIONS": bad})


def test_absent_variables_keep_the_local_defaults() -> None:
    facts = TaskPodFacts.from_env({"AUTOMATION_TARGET": "existing", "OTHER": "ignored"})
    assert facts == TaskPodFacts(target="existing")


def test_env_names_are_the_keys_to_env_writes() -> None:
    assert TaskPodFacts.env_names() == list(TaskPodFacts().to_env())
    assert all(name.startswith("AUTOMATION_") for name in TaskPodFacts.env_names())


def test_the_class_is_the_one_defined_in_the_dags_folder() -> None:
    assert inspect.getsourcefile(TaskPodFacts) == str(CONTRACT_FILE)
    spec = importlib.util.spec_from_file_location("contract_as_dags_see_it", CONTRACT_FILE)
    assert spec is not None and spec.loader is not None
    dags_side = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = dags_side
    try:
        spec.loader.exec_module(dags_side)
    finally:
        del sys.modules[spec.name]
    ours = [(f.name, f.default) for f in dataclasses.fields(TaskPodFacts)]
    theirs = [(f.name, f.default) for f in dataclasses.fields(dags_side.TaskPodFacts)]
    assert ours == theirs
    for name in ("DAGS_CLAIM", "DATA_CLAIM", "LOGS_CLAIM", "DAGS_PATH", "DATA_MOUNT", "UID", "GID",
                 "COMPOSER_NAMESPACE", "XCOM_SIDECAR", "XCOM_DIR", "XCOM_RETURN_FILE", "XCOM_RETURN_ENV",
                 "GCSFUSE_ANNOTATION", "LAUNCHER", "NONE"):
        assert getattr(contract, name) == getattr(dags_side, name), name
    assert dags_side.TaskPodFacts.from_env(TaskPodFacts(target="gke").to_env()).target == "gke"
