"""Why a pod the product starts has not run, read from what the real scheduler and kubelet write: the reason
`up` prints when its node-folders pod stays Pending (a full node, an image it cannot pull)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from automation.k8s.cluster import pod_stuck_reason, wait_for_pod
from automation.providers.existing import node_folders_fix
from tests.cluster.support import cluster_target

pytestmark = pytest.mark.cluster
NAMESPACE = "default"


def _pod(name: str, image: str, cpu: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NAMESPACE},
            "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": image, "command": ["true"],
                                     "resources": {"requests": {"cpu": cpu}}}]}}


@pytest.fixture
def started(k8s_cluster: Any) -> Any:
    _, state = cluster_target()
    names: list[str] = []

    def start(image: str, cpu: str = "1m") -> str:
        name = f"diagnosis-{uuid.uuid4().hex[:8]}"
        names.append(name)
        state.apply(_pod(name, image, cpu))
        return name

    yield state, start
    for name in names:
        state.delete("Pod", name, NAMESPACE, grace_seconds=0)


def _reason_within(state: Any, name: str, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    reason = ""
    while time.monotonic() < deadline and not reason:
        reason = pod_stuck_reason(state.get("Pod", name, NAMESPACE) or {"status": {}})
        time.sleep(0.5)
    return reason


def test_pod_no_node_can_take_is_named_as_not_scheduled_with_the_schedulers_words(started: Any) -> None:
    state, start = started
    name = start("busybox:1", cpu="4000")
    phase, reason = wait_for_pod(state, name, NAMESPACE, timeout=5)
    assert phase == "Pending"
    assert reason.startswith("not scheduled:") and "Insufficient cpu" in reason, reason
    assert "kubectl get pods -A" in node_folders_fix(reason, "apache/airflow:x", "airflow")


def test_image_the_node_cannot_pull_is_named_with_the_kubelets_reason(started: Any) -> None:
    state, start = started
    # Nothing listens on this port: the pull fails at once, as from a registry that is down.
    name = start("127.0.0.1:5999/never-pushed/image:1")
    reason = _reason_within(state, name, 60)
    assert reason.startswith("main: ") and ("ErrImagePull" in reason or "ImagePullBackOff" in reason), reason
    assert "127.0.0.1:5999/never-pushed/image:1" in reason
    assert "docs/how-to/air-gapped.md" in node_folders_fix(reason, "apache/airflow:x", "airflow")
