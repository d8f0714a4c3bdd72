"""`providers.existing`: any kube context; its node paths show this repository's folders, and node folders are
made by a short root pod (planned, in a dry run, against a cluster that cannot be read)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from automation.core.paths import REPO_ROOT
from automation.k8s.cluster import Unreachable
from automation.providers import Provider, provider_for
from automation.providers.existing import ExistingProvider
from automation.settings.model import Existing


@pytest.fixture
def existing(build: Callable[..., Provider]) -> Provider:
    provider = build("existing")
    assert isinstance(provider, ExistingProvider)
    return provider


def test_current_context_unless_one_is_named(existing: Provider) -> None:
    assert existing.cluster is not None
    assert existing.cluster.kube_args() == [] and existing.context() is None
    named = provider_for(existing.runner, replace(existing.target,
                                                  existing=Existing(context="kind-a", kubeconfig="kc.yaml")))
    assert named.cluster is not None
    assert named.cluster.kube_args() == ["--kubeconfig", str(REPO_ROOT / "kc.yaml"), "--kube-context", "kind-a"]
    assert named.cluster.kubectl_args() == ["--kubeconfig", str(REPO_ROOT / "kc.yaml"), "--context", "kind-a"]


def test_volumes_are_the_repository_folders_seen_by_the_node(existing: Provider) -> None:
    paths = {v.name: v.render()[0]["spec"]["hostPath"]["path"] for v in existing.volumes()}
    assert paths == {"airflow-logs": "/var/lib/airflow-logs", "airflow-dags": str(REPO_ROOT / "dags"),
                     "airflow-data": str(REPO_ROOT / "data")}


def test_chart_values_and_task_env(existing: Provider) -> None:
    values = existing.chart_values()
    assert values["logs"]["persistence"]["existingClaim"] == "airflow-logs"
    assert values["volumes"][0]["persistentVolumeClaim"] == {"claimName": "airflow-dags", "readOnly": True}
    assert values["env"] == [{"name": k, "value": v} for k, v in existing.task_env().items()]
    assert existing.task_env()["AUTOMATION_TARGET"] == "existing"
    assert existing.output_location("p", "o.csv") == str(REPO_ROOT / "data/p/o.csv")


def test_node_folders_are_planned_as_a_root_pod(existing: Provider) -> None:
    existing.ensure_node_folders(Unreachable())
    folders = " ".join(existing.node_folders())
    assert existing.runner.commands() == [f"run Pod/airflow-node-folders as root: install -d -o 50000 {folders}"]
