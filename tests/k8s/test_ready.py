"""Which replicas count as ready: a Deployment's status as the API server reports it before, during and after a
rollout (the shapes `kubectl get deploy -o json` shows)."""

from __future__ import annotations

from automation.k8s.ready import ready_replicas


def deployment(generation: int, observed: int, ready: int, updated: int | None) -> dict[str, object]:
    status: dict[str, object] = {"observedGeneration": observed, "readyReplicas": ready, "replicas": ready}
    if updated is not None:
        status["updatedReplicas"] = updated
    return {"metadata": {"name": "airflow-scheduler", "generation": generation}, "spec": {"replicas": 1},
            "status": status}


def test_rolled_out_is_ready() -> None:
    assert ready_replicas(deployment(3, 3, 1, 1)) == 1


def test_a_new_spec_not_yet_seen_by_the_controller_is_not_ready() -> None:
    assert ready_replicas(deployment(4, 3, 1, 1)) == 0  # `helm upgrade` just changed the image


def test_old_pods_ready_mid_rollout_do_not_count() -> None:
    assert ready_replicas(deployment(4, 4, 1, 0)) == 0  # the new pod waits for the migration


def test_a_status_without_updated_replicas_counts_ready_pods() -> None:
    assert ready_replicas(deployment(2, 2, 1, None)) == 1
    assert ready_replicas({"metadata": {"name": "x"}, "status": {}}) == 0
