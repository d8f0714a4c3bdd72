"""Composer 3's KubernetesPodOperator rules: each broken rule is reported, a compliant pod passes."""

from __future__ import annotations

import copy
import importlib.util
import shutil
from pathlib import Path
from typing import Any

import pytest

from automation.providers.composer_pod_rules import lint_pod, quantity
from tests.conftest import REPO, need, run_cli


def compliant() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "task", "namespace": "composer-user-workloads"},
        "spec": {
            "containers": [
                {"name": "base", "image": "europe-west1-docker.pkg.dev/p/r/worker:1",
                 "resources": {"requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "1Gi"},
                               "limits": {"cpu": "500m", "memory": "1Gi"}}},
                {"name": "airflow-xcom-sidecar", "image": "alpine",
                 "resources": {"requests": {"cpu": "1m", "memory": "10Mi"}}},
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "airflow-data"}}],
        },
    }


def broken(change) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    pod = copy.deepcopy(compliant())
    change(pod)
    return pod


def test_compliant_pod_passes() -> None:
    assert lint_pod(compliant()) == []


def test_pod_without_resources_passes() -> None:
    pod = compliant()
    for container in pod["spec"]["containers"]:
        container.pop("resources")
    assert lint_pod(pod) == []


@pytest.mark.parametrize(("change", "expected"), [
    (lambda p: p["spec"]["containers"].append({"name": "proxy", "image": "envoy"}), "sidecar container 'proxy'"),
    (lambda p: p["spec"].setdefault("initContainers", []).append(
        {"name": "native", "image": "x", "restartPolicy": "Always"}), "sidecar container 'native'"),
    (lambda p: p["spec"].update(affinity={"nodeAffinity": {"x": 1}}), "affinity is set"),
    (lambda p: p["metadata"].update(namespace="airflow"), "namespace 'airflow' is ignored"),
    (lambda p: p["spec"]["volumes"].append({"name": "node", "hostPath": {"path": "/data"}}), "is a hostPath"),
    (lambda p: p["spec"]["containers"][0].update(securityContext={"privileged": True}), "is privileged"),
    (lambda p: p["spec"]["containers"][0]["resources"]["requests"].update(cpu="64"), "CPU request 64"),
    (lambda p: p["spec"]["containers"][0]["resources"]["requests"].update(memory="200Gi"), "memory request"),
    (lambda p: p["spec"]["containers"][0]["resources"]["requests"].update(memory="8Gi"), "memory/CPU ratio"),
    (lambda p: p["spec"]["containers"][0]["resources"]["requests"].update(memory="256Mi"), "memory/CPU ratio"),
    (lambda p: p["spec"]["containers"][0]["resources"]["requests"].update(**{"ephemeral-storage": "50Gi"}),
     "ephemeral-storage request"),
    (lambda p: p["spec"]["containers"][0]["resources"]["limits"].update(cpu="100m"), "limit 100m is below"),
    (lambda p: p["spec"]["containers"][0]["resources"]["requests"].update(cpu="lots"), "is not a quantity"),
])
def test_each_rule_is_reported(change, expected: str) -> None:  # type: ignore[no-untyped-def]
    findings = lint_pod(broken(change))
    assert any(expected in f for f in findings), findings
    assert all("\n" not in f for f in findings)


def test_two_xcom_sidecars_are_reported() -> None:
    pod = broken(lambda p: p["spec"]["containers"].append({"name": "airflow-xcom-sidecar", "image": "alpine"}))
    assert any("allows a single" in f for f in lint_pod(pod))


def test_quantities() -> None:
    assert quantity("500m") == quantity("0.5")
    assert quantity("1Gi") == 1024**3
    assert quantity("1e3") == 1000
    assert quantity("x") is None


def test_real_operator_pod() -> None:
    """The pod a real KubernetesPodOperator builds, checked as `nox -s dags` checks it."""
    pytest.importorskip("airflow.providers.cncf.kubernetes")
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from kubernetes.client import models as k8s

    from automation.providers.composer_pod_rules import lint_operator

    ok = KubernetesPodOperator(task_id="t", name="t", image="alpine", namespace="composer-user-workloads",
                               do_xcom_push=True,
                               container_resources=k8s.V1ResourceRequirements(requests={"cpu": "1", "memory": "2Gi"}))
    assert lint_operator(ok) == []
    bad = KubernetesPodOperator(task_id="b", name="b", image="alpine", namespace="airflow",
                                affinity=k8s.V1Affinity(node_affinity=k8s.V1NodeAffinity()),
                                volumes=[k8s.V1Volume(name="h", host_path=k8s.V1HostPathVolumeSource(path="/x"))])
    text = "\n".join(lint_operator(bad))
    assert "namespace 'airflow'" in text and "hostPath" in text


def test_dags_command_lints_every_task_pod_for_composer(tmp_path: Path) -> None:
    """`nox -s dags` builds each task's pod as the Composer target would, and fails on a rule it breaks."""
    need(importlib.util.find_spec("airflow") is not None, "Airflow installed (the tests session installs it)")
    dags = tmp_path / "dags"
    shutil.copytree(REPO / "dags/common", dags / "common")
    shutil.copy(REPO / "dags/.airflowignore", dags / ".airflowignore")
    (dags / "pinned.py").write_text(
        '"""Airflow DAG whose task pins a node: Composer 3 refuses affinity."""\n'
        "from kubernetes.client import models as k8s\n"
        "from common.utils import project_dag, project_task\n\n"
        'with project_dag("example1", "pinned", output="output/x.csv"):\n'
        '    task = project_task("example1", "pinned", "example1/scripts/extract.py")\n'
        "    task.affinity = k8s.V1Affinity(node_affinity=k8s.V1NodeAffinity(\n"
        "        required_during_scheduling_ignored_during_execution=k8s.V1NodeSelector(node_selector_terms=[\n"
        '            k8s.V1NodeSelectorTerm(match_expressions=[k8s.V1NodeSelectorRequirement(\n'
        '                key="pool", operator="In", values=["big"])])])))\n')
    result = run_cli("dags", "--target", "composer", "--dags-folder", str(dags), timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "parity (target composer): pinned.pinned" in result.stderr
    assert "affinity" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr
