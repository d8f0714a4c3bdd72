"""Each parity rule on its own: a pod that keeps the target's contract passes it, a pod that breaks it gets one
line naming what to change; a provider's platform rules run after every target's."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from automation.dags import parity
from automation.dags.parity import PodTarget
from automation.settings.contract import GCSFUSE_ANNOTATION, LAUNCHER, XCOM_SIDECAR, TaskPodFacts

REGISTRY = "europe-docker.pkg.dev/p/r"
TARGET = PodTarget("gke", TaskPodFacts(target="gke", namespace="airflow", service_account="airflow-tasks",
                                       pod_annotations={GCSFUSE_ANNOTATION: "true"}, image_registry=REGISTRY),
                   frozenset({"airflow-dags", "airflow-data"}), frozenset({"example1"}))


def kept() -> dict[str, Any]:
    """A task pod as project_task builds it for TARGET."""
    image = f"{REGISTRY}/worker:1"
    return {
        "metadata": {"namespace": "airflow", "annotations": {GCSFUSE_ANNOTATION: "true"}},
        "spec": {
            "serviceAccountName": "airflow-tasks",
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "airflow-data"}}],
            "containers": [
                {"name": "base", "image": image, "envFrom": [{"configMapRef": {"name": "example1"}}],
                 "command": ["python", LAUNCHER, "--code-root", "gs://bucket/dags"], "env": []},
                {"name": XCOM_SIDECAR, "image": image},
            ],
        },
    }


def broken(change: Any) -> dict[str, Any]:
    pod = copy.deepcopy(kept())
    change(pod)
    return pod


def base(pod: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = pod["spec"]["containers"][0]
    return container


BREAKS: dict[parity.Rule, tuple[Any, str]] = {
    parity.namespace_rule: (lambda p: p["metadata"].update(namespace="default"),
                            "runs in namespace 'default', but target gke puts task pods"),
    parity.claims_rule: (lambda p: p["spec"]["volumes"].append({"persistentVolumeClaim": {"claimName": "mine"}}),
                         "mounts claim 'mine', but target gke defines airflow-dags, airflow-data"),
    parity.service_account_rule: (lambda p: p["spec"].update(serviceAccountName="default"),
                                  "runs as ServiceAccount 'default', but target gke gives task pods 'airflow-tasks'"),
    parity.annotations_rule: (lambda p: p["metadata"].update(annotations={}),
                              f"lacks the pod annotation {GCSFUSE_ANNOTATION}='true'"),
    parity.project_objects_rule: (lambda p: base(p)["envFrom"].append({"secretRef": {"name": "other"}}),
                                  "reads secret 'other', which target gke does not define"),
    parity.registry_rule: (lambda p: base(p).update(image="docker.io/worker:1"),
                           f"image docker.io/worker:1 is not in the target's registry {REGISTRY}"),
    parity.emulator_rule: (lambda p: base(p)["env"].append({"name": "STORAGE_EMULATOR_HOST", "value": "http://e:1"}),
                           "sets STORAGE_EMULATOR_HOST='http://e:1', but target gke has no GCS emulator"),
    parity.code_root_rule: (lambda p: base(p).update(command=["python", LAUNCHER, "--code-root", "/opt/code"]),
                            "reads its script from /opt/code, which is not mounted on target gke"),
    parity.sidecar_rule: (lambda p: p["spec"]["containers"][1].update(image="alpine"),
                          f"its {XCOM_SIDECAR} runs image 'alpine', not the task's"),
}


def test_every_rule_is_tested_here() -> None:
    assert set(BREAKS) | {parity.host_path_rule} == set(parity.RULES)


@pytest.mark.parametrize("rule", list(BREAKS), ids=lambda rule: rule.__name__)
def test_rule_passes_a_kept_pod_and_names_a_broken_one(rule: parity.Rule) -> None:
    assert rule(TARGET, kept()) == []
    change, line = BREAKS[rule]
    findings = rule(TARGET, broken(change))
    assert len(findings) == 1 and line in findings[0] and " -- " in findings[0]


def test_host_path_rule_only_where_the_target_has_no_claims() -> None:
    pod = broken(lambda p: p["spec"]["volumes"].append({"name": "h", "hostPath": {"path": "/srv"}}))
    assert parity.host_path_rule(TARGET, pod) == []
    bare = PodTarget("composer", TARGET.facts, frozenset(), frozenset({"example1"}))
    assert parity.host_path_rule(bare, pod) == ["mounts host path '/srv': target composer has no node folders -- "
                                                "read data through DATA_ROOT instead"]


def test_environment_names_each_variable_the_components_do_not_carry() -> None:
    wanted = {"AUTOMATION_TARGET": "gke", "AUTOMATION_NAMESPACE": "airflow"}
    assert parity.environment_problems(wanted, dict(wanted), "the values") == []
    found = parity.environment_problems(wanted, {**wanted, "AUTOMATION_NAMESPACE": "x"}, "the values")
    assert found == ["environment: AUTOMATION_NAMESPACE is 'x' in the values, the contract says 'airflow' -- a "
                     "values file overrides it: remove that override"]
