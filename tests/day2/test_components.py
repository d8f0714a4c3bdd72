"""Which pod `shell` and `airflow -- ARGS` run in: never one being deleted (a command in it is killed with it,
exit 137), a Ready one before one still starting, the rollout's newest before the pod it replaces."""

from __future__ import annotations

from typing import Any

from automation.day2.components import serving_pod


def pod(name: str, created: str, *, ready: bool = True, running: bool = True, deleting: bool = False,
        container: str = "scheduler") -> dict[str, Any]:
    """A pod as the API returns it, reduced to what the choice reads."""
    metadata: dict[str, Any] = {"name": name, "creationTimestamp": created}
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-04T10:05:00Z"
    state = {"running": {"startedAt": created}} if running else {"waiting": {"reason": "ContainerCreating"}}
    return {"metadata": metadata, "status": {
        "phase": "Running" if running else "Pending",
        "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        "containerStatuses": [{"name": container, "state": state}, {"name": "sidecar", "state": {"running": {}}}]}}


def test_mid_rollout_the_new_ready_pod_not_the_old_one_kubectl_prefers() -> None:
    old = pod("airflow-scheduler-old", "2026-12-04T09:00:00Z")
    new = pod("airflow-scheduler-new", "2026-12-04T10:00:00Z")
    assert serving_pod([old, new], "scheduler") == "airflow-scheduler-new"


def test_a_pod_being_deleted_is_never_chosen() -> None:
    going = pod("airflow-scheduler-old", "2026-12-04T10:00:00Z", deleting=True)
    staying = pod("airflow-scheduler-new", "2026-12-04T09:00:00Z")
    assert serving_pod([going, staying], "scheduler") == "airflow-scheduler-new"
    assert serving_pod([going], "scheduler") is None


def test_a_ready_pod_before_a_newer_one_still_starting() -> None:
    ready = pod("airflow-scheduler-a", "2026-12-04T09:00:00Z")
    starting = pod("airflow-scheduler-b", "2026-12-04T10:00:00Z", ready=False)
    assert serving_pod([ready, starting], "scheduler") == "airflow-scheduler-a"
    # None Ready (a component failing its probe): a shell in the running one still helps to debug it.
    assert serving_pod([starting], "scheduler") == "airflow-scheduler-b"


def test_the_component_container_must_run_not_only_a_sidecar() -> None:
    waiting = pod("airflow-scheduler-a", "2026-12-04T09:00:00Z", ready=False, running=False)
    assert serving_pod([waiting], "scheduler") is None
