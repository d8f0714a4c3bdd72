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
