"""The values of the local targets (`local`, `existing`) rendered by the official chart: every Airflow
container gets the task-pod contract, the DAG claim is mounted read-only, logs use our claim, and the chart
makes no Fernet key of its own."""

from __future__ import annotations

import io
from typing import Any

import jmespath
import kubernetes_validate
import pytest
import yaml

from automation.core.runner import Runner
from automation.providers import provider_for
from automation.settings import load_target
from tests.chart.helpers import SCHEMA_VERSION, render_chart
from tests.conftest import REPO

WORKLOADS = "[?kind=='Deployment' || kind=='StatefulSet' || kind=='Job']"
# Containers that run Airflow (the log groomers run only a clean-up script).
AIRFLOW_CONTAINERS = ("spec.template.spec.[initContainers || `[]`, containers][][] | "
                      "[?starts_with(image, 'apache/airflow:') && !ends_with(name, '-log-groomer')]")


@pytest.fixture(scope="module", params=["local", "existing"])
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render_chart({}, target=request.param)


def task_env(target: str) -> dict[str, str]:
    return provider_for(Runner(dry_run=True, out=io.StringIO()), load_target(target)).task_env()


def by_name(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    (doc,) = jmespath.search(f"[?kind=='{kind}' && metadata.name=='{name}']", docs)
    return doc


def worker_pod(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The KubernetesExecutor's pod template: what every task's worker pod is made from."""
    pod = yaml.safe_load(by_name(docs, "ConfigMap", "airflow-config")["data"]["pod_template_file.yaml"])
    kubernetes_validate.validate(pod, SCHEMA_VERSION, strict=True)
    return pod


def test_every_airflow_container_has_the_task_pod_contract(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    target, docs = rendered
    containers = jmespath.search(f"{WORKLOADS}[].{AIRFLOW_CONTAINERS}[]", docs)
    containers += jmespath.search("spec.containers", worker_pod(docs))
    names = {c["name"] for c in containers}
    assert {"scheduler", "dag-processor", "api-server", "triggerer", "base"} <= names
    expected = task_env(target)
    for container in containers:
        found = dict(jmespath.search("env[?starts_with(name, 'AUTOMATION_')].[name, value]", container))
        assert found == expected, container["name"]


def test_the_dag_claim_is_mounted_read_only(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    for name in ("airflow-scheduler", "airflow-dag-processor", "airflow-api-server"):
        spec = by_name(docs, "Deployment", name)["spec"]["template"]["spec"]
        volumes = jmespath.search("volumes[?persistentVolumeClaim.claimName=='airflow-dags']", spec)
        assert [v["persistentVolumeClaim"]["readOnly"] for v in volumes] == [True], name
        mounts = jmespath.search(f"containers[].volumeMounts[?name=='{volumes[0]['name']}'][]", spec)
        assert mounts and all(m["readOnly"] and m["mountPath"] == "/opt/airflow/dags" for m in mounts), name
    pods = [d["spec"]["template"]["spec"] for d in jmespath.search(WORKLOADS, docs)] + [worker_pod(docs)["spec"]]
    writable = jmespath.search("[].volumes[?persistentVolumeClaim.claimName=='airflow-dags' && "
                               "!persistentVolumeClaim.readOnly][]", pods)
    assert writable == []


def test_logs_use_the_existing_claim(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    for name in ("airflow-scheduler", "airflow-dag-processor", "airflow-api-server", "airflow-triggerer"):
        spec = by_name(docs, "Deployment", name)["spec"]["template"]["spec"]
        assert jmespath.search("volumes[?name=='logs'].persistentVolumeClaim.claimName", spec) == ["airflow-logs"]
    assert jmespath.search("spec.volumes[?name=='logs'].persistentVolumeClaim.claimName",
                           worker_pod(docs)) == ["airflow-logs"]
    assert jmespath.search("[?kind=='PersistentVolumeClaim'].metadata.name", docs) == []  # ours, not the chart's


def test_the_chart_makes_no_fernet_key(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    secrets = jmespath.search("[?kind=='Secret'].metadata.name", docs)
    assert secrets and not any("fernet" in s or "core-secrets" in s for s in secrets)
    refs = jmespath.search(f"{WORKLOADS}[].{AIRFLOW_CONTAINERS}[].env[?name=='AIRFLOW__CORE__FERNET_KEY'][]"
                           ".valueFrom.secretKeyRef", docs)
    assert refs and all(r == {"name": "airflow-core-secrets", "key": "fernet-key"} for r in refs)


def test_worker_pods_get_their_resources_through_the_current_key(
        rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """`workers.kubernetes.resources`, not the deprecated `workers.resources` (the chart warns on every install)."""
    target, docs = rendered
    values = yaml.safe_load((REPO / "helm/values-local.yaml").read_text())
    assert "resources" not in values["workers"]
    base = jmespath.search("spec.containers[?name=='base'] | [0]", worker_pod(docs))
    assert base["resources"] == values["workers"]["kubernetes"]["resources"], target


def airflow_cfg_section(docs: list[dict[str, Any]], name: str) -> list[str]:
    """The lines of one section of the airflow.cfg the chart renders (exactly one config map holds it)."""
    configs = jmespath.search("[?kind=='ConfigMap' && ends_with(metadata.name, '-config')].data.\"airflow.cfg\"",
                              docs)
    assert len(configs) == 1
    config = str(configs[0])
    return config.split(f"[{name}]", 1)[1].split("\n[", 1)[0].splitlines() if f"[{name}]" in config else []


def test_new_and_edited_dag_files_reach_the_api_in_seconds(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """helm/values-local.yaml's refresh_interval reaches the airflow.cfg the DAG processor reads (the benchmark
    benchmarks/dag_visibility.py measures what it buys)."""
    _, docs = rendered
    assert "refresh_interval = 5" in airflow_cfg_section(docs, "dag_processor")
    assert "min_serialized_dag_update_interval = 2" in airflow_cfg_section(docs, "core")


def test_the_scheduler_queues_a_downstream_task_within_a_quarter_second(
        rendered: tuple[str, list[dict[str, Any]]]) -> None:
    """helm/values-local.yaml's idle sleep reaches the scheduler's airflow.cfg (benchmarks/task_time.py measures
    what it buys); a GKE target keeps Airflow's default, as the parity table says."""
    _, docs = rendered
    assert "scheduler_idle_sleep_time = 0.25" in airflow_cfg_section(docs, "scheduler")
    gke = render_chart({}, target="gke")
    assert not any(line.startswith("scheduler_idle_sleep_time") for line in airflow_cfg_section(gke, "scheduler"))
