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
    TaskPodFacts(keep_failed_pods=0),
    TaskPodFacts(keep_failed_pods=12),
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


@pytest.mark.parametrize("bad", ["-1", "two", "1.5", ""])
def test_a_bad_count_raises_value_error_naming_the_variable(bad: str) -> None:
    with pytest.raises(ValueError, match="AUTOMATION_KEEP_FAILED_PODS: expected a whole number >= 0"):
        TaskPodFacts.from_env({"AUTOMATION_KEEP_FAILED_PODS": bad})


@pytest.mark.parametrize("bad", ["0", "-1", "soon", "", "inf", "nan"])
def test_a_bad_interval_raises_value_error_naming_the_variable(bad: str) -> None:
    with pytest.raises(ValueError, match="AUTOMATION_POD_START_CHECK_SECONDS: expected a number of seconds > 0"):
        TaskPodFacts.from_env({"AUTOMATION_POD_START_CHECK_SECONDS": bad})


def test_an_interval_goes_through_the_environment_unchanged() -> None:
    facts = TaskPodFacts(pod_start_check_seconds=1.0)
    assert TaskPodFacts.from_env(facts.to_env()) == facts
    assert TaskPodFacts.from_env({}).pod_start_check_seconds == 0.25


def test_leftovers_are_the_pods_that_never_started_and_failed_ones_beyond_the_bound() -> None:
    def pod(name: str, phase: str, minute: int, ran: bool = False, deleting: bool = False) -> dict:
        state = {"terminated": {"exitCode": 1}} if ran else {"waiting": {"reason": "ImagePullBackOff"}}
        meta = {"name": name, "creationTimestamp": f"2026-01-01T00:{minute:02d}:00Z"}
        if deleting:
            meta["deletionTimestamp"] = "2026-01-01T01:00:00Z"
        return {"metadata": meta, "status": {"phase": phase, "containerStatuses": [{"name": "base", "state": state}]}}

    pods = [pod("failed-old", "Failed", 1, ran=True), pod("failed-new", "Failed", 9, ran=True),
            pod("failed-mid", "Failed", 5, ran=True), pod("pulling", "Pending", 2),
            pod("going", "Pending", 3, deleting=True), pod("done", "Succeeded", 4, ran=True),
            pod("busy", "Running", 6, ran=True)]
    doomed = {p["metadata"]["name"]: why for p, why in contract.leftovers(pods, keep_failed=2)}
    assert doomed == {"pulling": "never started (ImagePullBackOff)",
                      "failed-old": "failed, older than the newest 2 kept"}
    assert {p["metadata"]["name"] for p, _ in contract.leftovers(pods, keep_failed=0)} == {
        "pulling", "failed-old", "failed-mid", "failed-new"}
    assert contract.never_started({"status": {"phase": "Pending"}})
    assert contract.not_started_reason({"status": {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]}}) == "Unschedulable"


def test_a_target_that_says_nothing_keeps_the_contracts_number_of_failed_pods() -> None:
    from automation.settings.model import Target

    assert Target(name="t", provider="existing").keep_failed_pods == contract.KEEP_FAILED_PODS == \
        TaskPodFacts().keep_failed_pods


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
                 "GCSFUSE_ANNOTATION", "LAUNCHER", "NONE", "PROJECT_LABEL", "OPERATOR_LABEL", "CHECKED_LABEL",
                 "KEEP_FAILED_PODS"):
        assert getattr(contract, name) == getattr(dags_side, name), name
    assert dags_side.TaskPodFacts.from_env(TaskPodFacts(target="gke").to_env()).target == "gke"
