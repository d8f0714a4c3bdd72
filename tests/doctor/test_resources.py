"""CPU and memory: quantities, what is requested, room for a task pod."""

from __future__ import annotations

import ast
from collections.abc import Callable

from automation.doctor.checks.resources import TASK_CPU, TASK_MEMORY_MB, check_resources, quantity, requested
from automation.doctor.probe import Probe
from tests.conftest import REPO
from tests.doctor.conftest import FakeCluster


def node(cpu: str, memory: str) -> dict:
    return {"metadata": {"name": "n"}, "status": {"allocatable": {"cpu": cpu, "memory": memory},
                                                   "capacity": {"cpu": cpu, "memory": memory}}}


def pod(cpu: str, memory: str, phase: str = "Running") -> dict:
    return {"metadata": {"name": "p"}, "status": {"phase": phase},
            "spec": {"containers": [{"resources": {"requests": {"cpu": cpu, "memory": memory}}}]}}


def test_quantities() -> None:
    assert quantity("1500m") == 1.5 and quantity("2") == 2
    assert quantity("8Gi") == 8 * 1024**3 and quantity("24581168Ki") == 24581168 * 1024
    assert quantity(None) == 0 and quantity("bogus!") == 0


def test_finished_pods_hold_no_room() -> None:
    assert requested([pod("500m", "1Gi"), pod("4", "8Gi", phase="Succeeded")]) == (0.5, 1024**3)


def test_the_task_pod_default_is_the_dag_helpers_one() -> None:
    # Read from the helpers' source: importing them needs the DAG folder on sys.path, as in Airflow.
    tree = ast.parse((REPO / "dags/common/utils/__init__.py").read_text())
    DEFAULT_RESOURCES = next(ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.AnnAssign)
                             and getattr(n.target, "id", "") == "DEFAULT_RESOURCES" and n.value is not None)
    assert quantity(DEFAULT_RESOURCES["requests"]["cpu"]) == TASK_CPU
    assert quantity(DEFAULT_RESOURCES["requests"]["memory"]) == TASK_MEMORY_MB * 1024**2


def test_a_full_cluster_blocks(probe_for: Callable[..., Probe]) -> None:
    full = FakeCluster({"Node": [node("2", "4Gi")], "Pod": [pod("1950m", "1Gi")]})
    finding = check_resources(probe_for("existing", full))
    assert finding.status == "blocker" and "stay Pending" in finding.message and finding.fix
    roomy = FakeCluster({"Node": [node("2", "4Gi")], "Pod": [pod("1", "1Gi")]})
    finding = check_resources(probe_for("existing", roomy))
    assert finding.status == "ok" and "room for 10 task pods" in finding.message


def test_minikube_smaller_than_its_settings_says_so(probe_for: Callable[..., Probe]) -> None:
    small = FakeCluster({"Node": [node("2", "2048Mi")], "Pod": []})
    finding = check_resources(probe_for("local", small, cpus=2, memory_mb=4096))
    assert finding.status == "warn" and "the node has 2 CPU / 2048 MB" in finding.message
    assert "down -- --purge" in finding.fix


def task_pod(name: str, waiting: str | None, *, checked: bool = False, namespace: str = "airflow",
             phase: str = "Pending") -> dict:
    labels = {"kubernetes_pod_operator": "True", "project": "example1", "dag_id": "d", "task_id": "t"}
    if checked:
        labels["already_checked"] = "True"
    statuses = [{"name": "base", "state": {"waiting": {"reason": waiting}}}] if waiting else []
    return {"metadata": {"name": name, "namespace": namespace, "labels": labels,
                         "creationTimestamp": "2026-01-01T00:00:00Z"},
            "status": {"phase": phase, "containerStatuses": statuses},
            "spec": {"containers": [{"resources": {"requests": {"cpu": "100m", "memory": "256Mi"}}}]}}


def test_a_full_cluster_names_the_targets_own_leftover_task_pods(probe_for: Callable[..., Probe]) -> None:
    stuck = [task_pod(f"example1-extract-{i}", "ImagePullBackOff") for i in range(17)]
    # Not leftovers: a pod still waiting for room (its task may still take it), and another namespace's pod.
    waiting = task_pod("example1-load-w", None)
    elsewhere = task_pod("example1-extract-x", "ImagePullBackOff", namespace="team-b")
    full = FakeCluster({"Node": [node("2", "8Gi")], "Pod": [pod("150m", "1Gi"), *stuck, waiting, elsewhere]})
    finding = check_resources(probe_for("existing", full))
    assert finding.status == "blocker" and "room for 0 task pods" in finding.message
    assert ("; 17 of this target's own task pods never started and hold 1.70 CPU / 4352Mi of it (ImagePullBackOff: 17; "
            "example1-extract-0, example1-extract-1, example1-extract-2 and 14 more, in namespace airflow)"
            ) in finding.message, finding.message
    assert finding.fix == ("delete them: `nox -s prune -- --target existing` (their logs and events stay in the "
                           "task logs)")


def test_a_full_cluster_without_leftovers_of_ours_points_at_other_workloads(probe_for: Callable[..., Probe]) -> None:
    full = FakeCluster({"Node": [node("2", "4Gi")], "Pod": [pod("1950m", "1Gi"), task_pod("mine", None)]})
    finding = check_resources(probe_for("existing", full))
    assert finding.status == "blocker" and "own task pods" not in finding.message
    assert finding.fix is not None and finding.fix.startswith("free room on the cluster")
