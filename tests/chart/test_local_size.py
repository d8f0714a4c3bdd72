"""Why Minikube's default size is 4 CPUs / 6144 MB: it holds what the local target's components request (the
official chart rendered with our values), a running task (its worker pod and its task pod), the largest memory
limit an example task may reach, and Kubernetes' own share, so the examples run on a common laptop's default."""

from __future__ import annotations

import ast
import re
from typing import Any

from automation.doctor.checks.resources import quantity
from automation.settings.model import Minikube
from tests.chart.helpers import render_chart
from tests.chart.test_values_local import worker_pod
from tests.conftest import REPO

# Kubernetes' own share of a Minikube node: the control plane's requests (kube-apiserver 250m, controller-manager
# 200m, scheduler 100m, etcd 100m/100Mi, coredns 100m/70Mi) and, resident beside them, kubelet, containerd and the
# node's systemd, about 1 GiB together.
KUBERNETES_CPU = 0.75
KUBERNETES_MB = 1024


def requests(spec: dict[str, Any]) -> tuple[float, float]:
    cpu = memory = 0.0
    for container in spec.get("containers") or []:  # init containers finish before the containers start
        asked = (container.get("resources") or {}).get("requests") or {}
        cpu, memory = cpu + quantity(asked.get("cpu")), memory + quantity(asked.get("memory")) / 1024**2
    return cpu, memory


def default_resources() -> dict[str, dict[str, str]]:
    """DEFAULT_RESOURCES of the DAG helpers, read from the file (importing it needs Airflow)."""
    tree = ast.parse((REPO / "dags/common/utils/__init__.py").read_text())
    return next(ast.literal_eval(n.value) for n in ast.walk(tree) if isinstance(n, ast.AnnAssign)
                and getattr(n.target, "id", "") == "DEFAULT_RESOURCES" and n.value is not None)


def test_the_default_size_holds_the_examples() -> None:
    docs = render_chart({}, target="local")
    cpu = memory = 0.0
    for doc in docs:
        if doc["kind"] in ("Deployment", "StatefulSet"):  # Jobs run once, before the components start
            replicas = doc["spec"].get("replicas", 1)
            asked = requests(doc["spec"]["template"]["spec"])
            cpu, memory = cpu + replicas * asked[0], memory + replicas * asked[1]
    worker = requests(worker_pod(docs)["spec"])
    # Every memory figure an example DAG or the DAG helpers set (requests and limits): the largest is what one
    # task may reach; the default task request is what a task pod reserves.
    figures = [quantity(f"{n}{unit}") / 1024**2 for n, unit in
               re.findall(r'"memory":\s*"(\d+)(Mi|Gi)"', "".join(p.read_text() for p in (REPO / "dags").rglob("*.py")))]
    assert figures
    task_cpu = quantity(default_resources()["limits"]["cpu"])
    need_cpu = cpu + worker[0] + task_cpu + KUBERNETES_CPU
    need_mb = memory + worker[1] + max(figures) + KUBERNETES_MB
    size = Minikube()
    print(f"components {cpu:.2f} CPU / {memory:.0f} MB, worker {worker}, task up to {task_cpu} CPU / "
          f"{max(figures):.0f} MB: {need_cpu:.2f} CPU / {need_mb:.0f} MB of {size.cpus} / {size.memory_mb}")
    assert need_cpu <= size.cpus
    assert need_mb <= size.memory_mb
