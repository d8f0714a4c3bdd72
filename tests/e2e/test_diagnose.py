"""Reading a failed task's pods from the events the API server keeps after the pods are gone (the shapes of
`kubectl get events -o json`, as the kubelet writes them for an image it cannot pull)."""

from __future__ import annotations

from typing import Any

from automation.e2e.diagnose import gone_pods, pull_failure


def event(pod: str, reason: str, message: str) -> dict[str, Any]:
    return {"involvedObject": {"kind": "Pod", "name": pod, "namespace": "airflow"}, "reason": reason,
            "type": "Warning", "message": message}


PULL = ('Failed to pull image "never-loaded-image:0.0.1": failed to pull and unpack image '
        '"docker.io/library/never-loaded-image:0.0.1": failed to resolve reference')
EVENTS = [event("example1-pull-we1scgx6", "Failed", PULL),
          event("example1-pull-we1scgx6", "Failed", "Error: ErrImagePull"),
          event("cluster-test-missing-image-pull-k2j4", "Scheduled", "Successfully assigned"),
          event("example1-pullout-abc12345", "Failed", PULL),
          event("example1-extract-abc12345", "Failed", PULL),
          {"involvedObject": {"kind": "Job", "name": "example1-pull-x"}, "message": PULL}]


def test_the_task_pods_of_the_operator_and_of_the_executor_are_found_by_name() -> None:
    assert gone_pods(EVENTS, "pull") == {"example1-pull-we1scgx6", "cluster-test-missing-image-pull-k2j4"}
    assert gone_pods(EVENTS, "extract") == {"example1-extract-abc12345"}


def test_a_pull_failure_names_its_image() -> None:
    assert pull_failure(PULL) == "never-loaded-image:0.0.1: failed to pull"
    assert pull_failure("Error: ErrImagePull") is None
    assert pull_failure("Successfully assigned airflow/x to vm") is None
