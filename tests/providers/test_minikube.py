"""`providers.minikube` (target `local`): node folders behind hostPath claims, logs on a claim, the context
named after the profile, host folders mounted in the background, resources checked against this machine."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from automation.core.errors import UserError
from automation.core.paths import REPO_ROOT
from automation.providers import Provider
from automation.providers.minikube import MinikubeProvider
from tests.providers.conftest import output


@pytest.fixture
def local(build: Callable[..., Provider]) -> Provider:
    provider = build("local")
    assert isinstance(provider, MinikubeProvider)
    return provider


def test_cluster_is_the_profile(local: Provider) -> None:
    assert local.context() == "airflow"
    assert local.cluster is not None
    assert local.cluster.kube_args() == ["--kube-context", "airflow"]
    assert local.cluster.kubectl_args() == ["--context", "airflow"]


def test_volumes_are_host_path_claims(local: Provider) -> None:
    rendered = {v.name: v.render() for v in local.volumes()}
    assert set(rendered) == {"airflow-logs", "airflow-dags", "airflow-data"}
    paths = {name: pv["spec"]["hostPath"] for name, (pv, _) in rendered.items()}
    assert paths == {"airflow-logs": {"path": "/data/airflow-logs", "type": "DirectoryOrCreate"},
                     "airflow-dags": {"path": "/mnt/airflow/dags", "type": "Directory"},
                     "airflow-data": {"path": "/mnt/airflow/data", "type": "Directory"}}
    assert rendered["airflow-dags"][1]["spec"]["accessModes"] == ["ReadOnlyMany"]
    assert rendered["airflow-data"][1]["spec"]["accessModes"] == ["ReadWriteMany"]


def test_node_folders_are_the_logs_and_each_projects_data(local: Provider) -> None:
    assert local.node_folders() == ["/data/airflow-logs", *(f"/mnt/airflow/data/{p}" for p in local.target.projects)]


def test_chart_values_mount_dags_read_only_and_logs_on_the_claim(local: Provider) -> None:
    values = local.chart_values()
    assert values["logs"] == {"persistence": {"enabled": True, "existingClaim": "airflow-logs"}}
    assert {"name": "dags-ro", "mountPath": "/opt/airflow/dags", "readOnly": True} in values["volumeMounts"]
    assert values["env"] == [{"name": k, "value": v} for k, v in local.task_env().items()]


def test_task_env(local: Provider) -> None:
    env = local.task_env()
    assert env["AUTOMATION_TARGET"] == "local" and env["AUTOMATION_NAMESPACE"] == "airflow"
    assert env["AUTOMATION_DAGS_CLAIM"] == "airflow-dags" and env["AUTOMATION_DATA_CLAIM"] == "airflow-data"
    assert env["AUTOMATION_DATA_ROOT"] == "/data" and env["AUTOMATION_CODE_ROOT"] == "/opt/airflow/dags"
    assert env["AUTOMATION_SERVICE_ACCOUNT"] == "default"
    assert env["AUTOMATION_POD_ANNOTATIONS"] == env["AUTOMATION_IMAGE_REGISTRY"] == "none"


def test_outputs_are_read_from_the_host_data_folder(local: Provider) -> None:
    assert local.output_location("example1", "output/a.csv") == str(REPO_ROOT / "data/example1/output/a.csv")
    assert local.extra_objects() == []


def test_mounts_start_in_the_background(local: Provider) -> None:
    local.ensure_mounts()
    assert local.runner.commands() == [
        f"minikube mount -p airflow {REPO_ROOT / 'dags'}:/mnt/airflow/dags --uid=50000 --gid=0",
        f"minikube mount -p airflow {REPO_ROOT / 'data'}:/mnt/airflow/data --uid=50000 --gid=0",
    ]


def test_more_cpus_than_this_machine_has(build: Callable[..., Provider]) -> None:
    cpus = (os.cpu_count() or 1) + 1
    planned = build("local", cpus=cpus)
    planned.check_resources()  # a dry run warns
    assert f"warning: minikube.cpus is {cpus} but this machine has" in output(planned)
    with pytest.raises(UserError, match=f"minikube.cpus is {cpus}"):
        build("local", dry_run=False, cpus=cpus).check_resources()
