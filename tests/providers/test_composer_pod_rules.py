"""Composer 3's KubernetesPodOperator rules: each broken rule is reported as refused or changed, with its source;
a compliant pod passes."""

from __future__ import annotations

import copy
import dataclasses
import importlib.util
import shutil
from pathlib import Path
from typing import Any

import pytest

from automation.providers.composer_pod_rules import (
    CHANGED,
    CHANGED_PREFIX,
    REFUSED,
    REFUSED_PREFIX,
    RULES,
    PodFinding,
    is_changed,
    lint_pod,
    pod_findings,
    quantity,
)
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


def base_requests(sidecar: bool = True, **values: str):  # type: ignore[no-untyped-def]
    """A change setting the base container's requests (and dropping its limits, which would cap them); without
    `sidecar`, the XCom sidecar requests nothing."""
    def change(pod: dict[str, Any]) -> None:
        resources = pod["spec"]["containers"][0]["resources"]
        resources["requests"].update(values)
        resources.pop("limits")
        if not sidecar:
            pod["spec"]["containers"][1].pop("resources")
    return change


def test_compliant_pod_passes() -> None:
    assert lint_pod(compliant()) == []
    assert pod_findings(compliant()) == []


def test_pod_without_resources_passes() -> None:
    pod = compliant()
    for container in pod["spec"]["containers"]:
        container.pop("resources")
    assert lint_pod(pod) == []


# (rule, change, text the finding must contain): one case or more per rule in RULES.
CASES = [
    ("namespace", lambda p: p["metadata"].update(namespace="airflow"),
     "namespace 'airflow' is not used: Composer runs the pod in composer-user-workloads"),
    ("sidecar", lambda p: p["spec"]["containers"].append({"name": "proxy", "image": "envoy"}),
     "sidecar container 'proxy'"),
    ("sidecar", lambda p: p["spec"].setdefault("initContainers", []).append(
        {"name": "native", "image": "x", "restartPolicy": "Always"}), "sidecar container 'native'"),
    ("sidecar", lambda p: p["spec"]["containers"].append({"name": "airflow-xcom-sidecar", "image": "alpine"}),
     "allows a single airflow-xcom-sidecar"),
    ("affinity", lambda p: p["spec"].update(affinity={"nodeAffinity": {"x": 1}}), "affinity is set"),
    ("host-path", lambda p: p["spec"]["volumes"].append({"name": "node", "hostPath": {"path": "/data"}}),
     "volume 'node' is a hostPath"),
    ("privileged", lambda p: p["spec"]["containers"][0].update(securityContext={"privileged": True}),
     "container 'base' is privileged"),
    ("privileged", lambda p: p["spec"].setdefault("initContainers", []).append(
        {"name": "init", "image": "x", "securityContext": {"privileged": True}}), "container 'init' is privileged"),
    ("capabilities", lambda p: p["spec"]["containers"][0].update(
        securityContext={"capabilities": {"add": ["NET_BIND_SERVICE", "SYS_ADMIN"]}}),
     "adds capabilities ['SYS_ADMIN']"),
    ("capabilities", lambda p: p["spec"]["containers"][0].update(securityContext={"capabilities": {"add": ["ALL"]}}),
     "adds capabilities ['ALL']"),
    ("host-namespaces", lambda p: p["spec"].update(hostNetwork=True, hostPID=True), "hostNetwork/hostPID is set"),
    ("host-namespaces", lambda p: p["spec"].update(hostIPC=True), "hostIPC is set"),
    ("quantity", lambda p: p["spec"]["containers"][0]["resources"]["requests"].update(cpu="lots"),
     "cpu 'lots' is not a quantity"),
    ("limit-below-request", lambda p: p["spec"]["containers"][0]["resources"]["limits"].update(cpu="100m"),
     "cpu limit 100m is below its request 500m"),
    ("cpu-minimum", base_requests(cpu="10m", memory="64Mi"),
     "CPU request 0.011 vCPU is below Autopilot's minimum: Composer raises the CPU request to 0.05 vCPU"),
    ("cpu-maximum", base_requests(cpu="64", memory="100Gi"), "CPU request 64.001 vCPU is above Composer 3's maximum"),
    ("memory-minimum", base_requests(cpu="50m", memory="20Mi", sidecar=False),
     "memory request 20Mi is below Autopilot's minimum: Composer raises the memory request to 52Mi"),
    ("memory-maximum", base_requests(cpu="20", memory="120Gi"), "memory request 120.01Gi is above Composer 3's"),
    ("memory-per-cpu", base_requests(memory="8Gi"),
     "ratio 15.99 GiB per vCPU is outside Autopilot's 1-6.5 GiB per vCPU: Composer raises the CPU request to "
     "1.233 vCPU"),
    ("memory-per-cpu", base_requests(memory="256Mi"),
     "ratio 0.52 GiB per vCPU is outside Autopilot's 1-6.5 GiB per vCPU: Composer raises the memory request to "
     "513Mi"),
    ("ephemeral-minimum", lambda p: p["spec"]["containers"][0]["resources"]["requests"].update(
        **{"ephemeral-storage": "1Mi"}), "ephemeral-storage request 1Mi is below Autopilot's minimum: Composer raises "
     "it to 10Mi"),
    ("ephemeral-maximum", lambda p: p["spec"]["containers"][0]["resources"]["requests"].update(
        **{"ephemeral-storage": "50Gi"}), "ephemeral-storage request 50.00Gi is above Composer 3's maximum"),
]


@pytest.mark.parametrize(("rule", "change", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_each_rule_is_reported_with_its_severity(rule: str, change, expected: str) -> None:  # type: ignore[no-untyped-def]
    findings = pod_findings(broken(change))
    matching = [f for f in findings if expected in f.message]
    assert matching, findings
    assert {f.rule for f in matching} == {rule}
    for finding in matching:
        assert finding.severity == RULES[rule].severity
        assert finding.source == RULES[rule].source
        assert finding.blocking == (finding.severity == REFUSED)
    # Only the rule under test fires: the compliant pod breaks nothing else.
    assert {f.rule for f in findings} == {rule}, findings
    lines = lint_pod(broken(change))
    assert len(lines) == len(findings) and all("\n" not in line for line in lines)


def test_every_rule_has_a_case() -> None:
    assert {case[0] for case in CASES} == set(RULES)


# What Composer does, per rule: refused (the task fails) or changed (it runs, as the finding says).
SEVERITIES = {
    "namespace": CHANGED, "sidecar": REFUSED, "affinity": REFUSED, "host-path": REFUSED, "privileged": REFUSED,
    "capabilities": REFUSED, "host-namespaces": REFUSED, "quantity": REFUSED, "limit-below-request": REFUSED,
    "cpu-minimum": CHANGED, "cpu-maximum": REFUSED, "memory-minimum": CHANGED, "memory-maximum": REFUSED,
    "memory-per-cpu": CHANGED, "ephemeral-minimum": CHANGED, "ephemeral-maximum": REFUSED,
}


def test_classification() -> None:
    assert {name: rule.severity for name, rule in RULES.items()} == SEVERITIES
    for rule in RULES.values():
        assert rule.source.startswith("https://"), rule
    composer = "https://cloud.google.com/composer/docs/composer-3/use-kubernetes-pod-operator"
    assert {n for n, r in RULES.items() if r.source == composer} == {"namespace", "sidecar", "affinity"}


def test_lines_say_refused_or_changed() -> None:
    pod = broken(lambda p: (p["metadata"].update(namespace="airflow"),
                            p["spec"].update(affinity={"podAffinity": {}})))
    lines = lint_pod(pod)
    assert len(lines) == 2
    refused = next(line for line in lines if "affinity" in line)
    changed = next(line for line in lines if "namespace" in line)
    assert refused.startswith(REFUSED_PREFIX + " ") and not is_changed(refused)
    assert changed.startswith(CHANGED_PREFIX + " ") and is_changed(changed)
    assert is_changed(f"dag.task: {changed}") and not is_changed(f"dag.task: {refused}")
    assert changed.endswith("(see https://cloud.google.com/composer/docs/composer-3/use-kubernetes-pod-operator)")


def test_changed_messages_say_what_composer_does() -> None:
    pod = broken(lambda p: p["metadata"].update(namespace="elsewhere"))
    finding = pod_findings(pod)[0]
    assert finding == PodFinding("namespace", CHANGED, "task: namespace 'elsewhere' is not used: Composer runs the pod "
                                 "in composer-user-workloads", RULES["namespace"].source)
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.severity = REFUSED  # type: ignore[misc]
    for case in CASES:
        for f in pod_findings(broken(case[1])):
            if f.severity == CHANGED:
                assert "Composer raises" in f.message or "Composer runs" in f.message, f


def test_ratio_is_measured_after_the_minimums() -> None:
    """11m CPU with 1.01 GiB (the sidecar's included): Composer raises the CPU to 0.05 (the minimum), then to
    1.01/6.5 vCPU for the memory, not to 0.011 x 6.5."""
    pod = broken(base_requests(cpu="10m", memory="1Gi"))
    rules = {f.rule: f.message for f in pod_findings(pod)}
    assert set(rules) == {"cpu-minimum", "memory-per-cpu"}
    assert "Composer raises the CPU request to 0.156 vCPU" in rules["memory-per-cpu"]


def test_requests_at_the_bounds_pass() -> None:
    pod = compliant()
    pod["spec"]["containers"] = [{"name": "base", "resources": {"requests": {
        "cpu": "30", "memory": "110Gi", "ephemeral-storage": "10Gi"}}}]
    assert lint_pod(pod) == []
    pod["spec"]["containers"] = [{"name": "base", "resources": {"requests": {
        "cpu": "50m", "memory": "52Mi", "ephemeral-storage": "10Mi"}}}]
    assert lint_pod(pod) == []


@pytest.mark.parametrize(("cpu", "memory", "changed"), [
    ("1", "6.5Gi", None), ("1", "6.6Gi", "Composer raises the CPU request to 1.016 vCPU"),
    ("1", "1Gi", None), ("1", "1000Mi", "Composer raises the memory request to 1.00Gi"),
])
def test_ratio_bounds(cpu: str, memory: str, changed: str | None) -> None:
    pod = {"metadata": {"name": "t"}, "spec": {"containers": [
        {"name": "base", "resources": {"requests": {"cpu": cpu, "memory": memory}}}]}}
    findings = pod_findings(pod)
    if changed is None:
        assert findings == []
    else:
        assert [(f.rule, f.severity) for f in findings] == [("memory-per-cpu", CHANGED)]
        assert changed in findings[0].message


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

    from automation.providers.composer_pod_rules import build_pod

    ok = KubernetesPodOperator(task_id="t", name="t", image="alpine", namespace="composer-user-workloads",
                               do_xcom_push=True,
                               container_resources=k8s.V1ResourceRequirements(requests={"cpu": "1", "memory": "2Gi"}))
    assert lint_pod(build_pod(ok)) == []
    bad = KubernetesPodOperator(task_id="b", name="b", image="alpine", namespace="airflow",
                                affinity=k8s.V1Affinity(node_affinity=k8s.V1NodeAffinity()),
                                volumes=[k8s.V1Volume(name="h", host_path=k8s.V1HostPathVolumeSource(path="/x"))])
    text = "\n".join(lint_pod(build_pod(bad)))
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
