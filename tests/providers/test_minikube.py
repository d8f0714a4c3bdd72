"""`providers.minikube` (target `local`): node folders behind hostPath claims, logs on a claim, the context
named after the profile, host folders mounted in the background, resources checked against this machine."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.core.paths import REPO_ROOT
from automation.providers import Provider
from automation.providers.minikube import MinikubeProvider
from tests.core.test_machine import stand_in
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


def test_a_size_docker_cannot_give_is_refused_naming_the_flag(build: Callable[..., Provider], tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Docker Desktop's default VM on an 8 GB laptop (4 CPUs, 3.8 GiB): the settings' size is refused with the flag
    that lowers it, as a command to copy; a dry run warns."""
    stand_in(tmp_path / "bin", "docker", "4 4102074368")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    planned = build("local", cpus=6, memory_mb=6144)
    planned.check_resources()
    assert "warning: minikube asks for 6 CPUs but Docker's engine (on Docker Desktop, its VM) has 4" in output(planned)
    with pytest.raises(UserError) as refused:
        build("local", dry_run=False, cpus=6, memory_mb=6144).check_resources()
    assert refused.value.line() == ("error: minikube asks for 6 CPUs but Docker's engine (on Docker Desktop, its VM) "
                                    "has 4 -- lower it: `nox -s up -- --cpus 4 --target local` (or "
                                    "targets.local.minikube.cpus in a settings overlay)")
    with pytest.raises(UserError) as refused:
        build("local", dry_run=False, memory_mb=6144).check_resources()
    assert ("asks for 6144 MB of memory but Docker's engine (on Docker Desktop, its VM) has 3912 MB"
            in str(refused.value))
    assert "`nox -s up -- --memory 2560 --target local`" in str(refused.value)
    # The size it names is one this engine gives: with it, nothing is refused.
    build("local", dry_run=False, memory_mb=2560).check_resources()


def test_the_default_size_fits_a_common_laptop(build: Callable[..., Provider], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """The default asks for no more than Docker Desktop gives on a 16 GB Mac (8 CPUs, 7.65 GiB VM) or a Linux
    laptop of 8 GB and 4 CPUs gives Minikube's docker driver (7.6 GiB MemTotal)."""
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    for engine in ("8 8217473024", "4 8162000896"):
        stand_in(tmp_path / "bin", "docker", engine)
        build("local", dry_run=False).check_resources()
