"""The parity check finds a contract broken on either side: by the writer (the environment a target's Airflow
gets), by the reader (a DAG's task), or by the target (a project it does not define); each line names the task."""

from __future__ import annotations

import importlib.util
import io
import shutil
from pathlib import Path

import pytest
import yaml

from automation.core import paths
from automation.core.runner import Runner
from automation.dags import parity
from automation.providers import provider_for
from automation.providers.base import UpOptions
from automation.settings import load_target
from tests.conftest import REPO, need, run_cli


@pytest.fixture(autouse=True)
def airflow() -> None:
    need(importlib.util.find_spec("airflow") is not None, "Airflow installed (the tests session installs it)")


def overlay(tmp_path: Path, target: str, **settings: object) -> Path:
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump({"targets": {target: settings}}))
    return path


def test_every_target_passes_with_the_repository_dags() -> None:
    # example_xcom's summarize has the XCom sidecar: every target, Composer 3 included, accepts it.
    for target in ("local", "existing", "gke", "composer", "composer-rehearsal"):
        result = run_cli("dags", "--target", target, "--no-server", timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"target {target}: 8 task pods fit it" in result.stdout


def test_writer_side_broken_gke_env_overridden_by_a_values_file(tmp_path: Path) -> None:
    """A values file replaces the chart's env list: task pods would run as `default`, without GCS Fuse."""
    values = tmp_path / "values-override.yaml"
    values.write_text(yaml.safe_dump({"env": [{"name": "EXTRA", "value": "1"}]}))
    result = run_cli("dags", "--target", "gke", "--no-server",
                     "--settings", str(overlay(tmp_path, "gke", values=[str(values)])), timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "environment: AUTOMATION_SERVICE_ACCOUNT is None" in out
    assert "example1.extract: runs as ServiceAccount 'default', but target gke gives task pods 'airflow-tasks'" in out
    assert "example1.extract: lacks the pod annotation gke-gcsfuse/volumes='true'" in out
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in out


def test_reader_side_broken_a_task_names_its_own_claim(tmp_path: Path) -> None:
    dags = tmp_path / "dags"
    shutil.copytree(REPO / "dags/common", dags / "common")
    (dags / "own_claim.py").write_text(
        '"""Airflow DAG whose task mounts a claim of its own name."""\n'
        "from kubernetes.client import models as k8s\n"
        "from common.utils import project_dag, project_task\n\n"
        'with project_dag("example1", "own_claim", output="output/x.csv"):\n'
        '    task = project_task("example1", "t", "example1/scripts/extract.py")\n'
        '    task.volumes.append(k8s.V1Volume(name="x", persistent_volume_claim='
        'k8s.V1PersistentVolumeClaimVolumeSource(claim_name="airflow-dagz")))\n')
    result = run_cli("dags", "--target", "gke", "--no-server", "--dags-folder", str(dags), timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "own_claim.t: mounts claim 'airflow-dagz', but target gke defines airflow-dags, airflow-data" \
        in result.stdout


def test_target_without_the_project_its_tasks_read(tmp_path: Path) -> None:
    result = run_cli("dags", "--target", "local", "--no-server",
                     "--settings", str(overlay(tmp_path, "local", projects=["example1"])), timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "example_db.write_rows: reads configMap 'example-db', which target local does not define" \
        in result.stdout


def _one_task_dag(dags: Path, name: str, **task_kwargs: object) -> None:
    """A DAG folder with the repository's helpers and one DAG `name` whose task `t` passes `task_kwargs`."""
    if not (dags / "common").is_dir():
        shutil.copytree(REPO / "dags/common", dags / "common")
    (dags / f"{name}.py").write_text(
        f'"""Airflow DAG whose task sets some of its own arguments."""\n'
        "from common.utils import project_dag, project_task\n\n"
        f'with project_dag("example1", "{name}", output="output/x.csv"):\n'
        f'    project_task("example1", "t", "example1/scripts/extract.py", **{task_kwargs!r})\n')


def test_rehearsal_task_pointed_away_from_the_emulator(tmp_path: Path) -> None:
    """The emulator endpoint is the writer's (the provider) and the reader's (project_task) contract: a task
    that overrides it would talk to Cloud Storage from the rehearsal, and the check names it."""
    _one_task_dag(tmp_path / "dags", "own_endpoint", env={"STORAGE_EMULATOR_HOST": "http://elsewhere:1"})
    result = run_cli("dags", "--target", "composer-rehearsal", "--no-server", "--dags-folder",
                     str(tmp_path / "dags"), timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert ("own_endpoint.t: STORAGE_EMULATOR_HOST is 'http://elsewhere:1', target composer-rehearsal's GCS "
            "emulator needs 'http://gcs-emulator.airflow.svc.cluster.local:9023'") in result.stdout


@pytest.mark.parametrize(("target", "kwargs", "expected"), [
    # Composer's workers start pods through its kubeconfig file: a task that names another (or none) is reported.
    ("composer-rehearsal", {"config_file": "/home/airflow/.kube/config"},
     "own_client.t: starts its pod with config_file='/home/airflow/.kube/config', but target composer-rehearsal's "
     "workers reach the cluster through the kubeconfig file /home/airflow/composer_kube_config"),
    ("composer", {"kubernetes_conn_id": "my_cluster"},
     "own_client.t: uses connection 'my_cluster', not 'kubernetes_default', which target composer configures"),
    # ... and a local task that names Composer's file would fail at start where that file does not exist.
    ("local", {"config_file": "/home/airflow/composer_kube_config"},
     "own_client.t: starts its pod with config_file='/home/airflow/composer_kube_config', but target local's "
     "workers reach the cluster through the worker's in-cluster identity"),
])
def test_task_that_overrides_how_workers_reach_the_cluster(tmp_path: Path, target: str, kwargs: dict[str, str],
                                                           expected: str) -> None:
    _one_task_dag(tmp_path / "dags", "own_client", **kwargs)
    result = run_cli("dags", "--target", target, "--no-server", "--dags-folder", str(tmp_path / "dags"),
                     timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stdout


def test_composer_changes_are_warnings_and_refusals_stop_the_check(tmp_path: Path) -> None:
    """A request below Autopilot's minimum is raised by Composer (the task runs): a warning, exit 0. One above its
    maximum is rejected (the task fails): a problem, exit 2."""
    dags = tmp_path / "dags"
    _one_task_dag(dags, "sizes", resources={"requests": {"cpu": "10m", "memory": "64Mi"}})
    small = run_cli("dags", "--target", "composer", "--no-server", "--dags-folder", str(dags), timeout=600)
    assert small.returncode == 0, small.stdout + small.stderr
    assert "warning: sizes.t: " in small.stdout and "changed by Composer:" in small.stdout
    _one_task_dag(dags, "sizes", resources={"requests": {"cpu": "40", "memory": "64Mi"}})
    big = run_cli("dags", "--target", "composer", "--no-server", "--dags-folder", str(dags), timeout=600)
    assert big.returncode == 2, big.stdout + big.stderr
    assert "problem: sizes.t: " in big.stdout and "refused:" in big.stdout


def test_cloud_task_pointed_at_an_emulator(tmp_path: Path) -> None:
    _one_task_dag(tmp_path / "dags", "emulated", env={"STORAGE_EMULATOR_HOST": "http://localhost:9023"})
    result = run_cli("dags", "--target", "composer", "--no-server", "--dags-folder", str(tmp_path / "dags"),
                     timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "emulated.t: sets STORAGE_EMULATOR_HOST='http://localhost:9023', but target composer has no GCS " \
        "emulator" in result.stdout


def test_xcom_sidecar_that_would_pull_its_image(tmp_path: Path) -> None:
    """project_task(xcom=True) runs the sidecar from the task's image; a plain KubernetesPodOperator with
    do_xcom_push gets the provider's default (alpine, pinned), which nodes without Docker Hub cannot pull."""
    dags = tmp_path / "dags"
    shutil.copytree(REPO / "dags/common", dags / "common")
    (dags / "sidecars.py").write_text(
        '"""Airflow DAG with an XCom task by project_task and one by hand."""\n'
        "from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator\n"
        "from common.utils import project_dag, project_task\n\n"
        'with project_dag("example1", "sidecars", output="output/x.csv"):\n'
        '    ok = project_task("example1", "helper", "example1/scripts/extract.py", xcom=True)\n'
        '    KubernetesPodOperator(task_id="by_hand", name="by-hand", image=ok.image, cmds=ok.cmds,\n'
        '                          namespace=ok.namespace, do_xcom_push=True)\n')
    result = run_cli("dags", "--target", "local", "--no-server", "--dags-folder", str(dags), timeout=600)
    assert result.returncode == 2, result.stdout + result.stderr
    # The provider's default: 'alpine' up to 10.15, a pinned 'alpine:3.24.1' since.
    assert "sidecars.by_hand: its airflow-xcom-sidecar runs image 'alpine" in result.stdout
    assert "sidecars.helper:" not in result.stdout


def test_up_values_file_overriding_a_contract_variable_fails_the_check_and_nothing_is_written(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`up --values FILE` reaches the check as `up` merged it: an AUTOMATION_* override is named, the pass
    `up` remembers depends on the file, and the check itself writes nothing (only `render` writes files)."""
    monkeypatch.delenv("AUTOMATION_SETTINGS", raising=False)
    monkeypatch.setattr(paths, "STATE_ROOT", tmp_path / "state")
    _one_task_dag(tmp_path / "dags", "plain", env={})
    provider = provider_for(Runner(out=io.StringIO()), load_target("existing"))
    env = [{"name": k, "value": "/elsewhere" if k == "AUTOMATION_DATA_ROOT" else v}
           for k, v in provider.task_env().items()]
    values = tmp_path / "values-override.yaml"
    values.write_text(yaml.safe_dump({"env": env}))
    plain = provider.deployer.prepare(UpOptions())
    overridden = provider.deployer.prepare(UpOptions(values=[str(values)]))

    report = parity.check(provider.runner, provider, overridden, tmp_path / "dags", server=False)
    assert [p for p in report.problems if p.startswith("environment:")] == [
        f"environment: AUTOMATION_DATA_ROOT is '/elsewhere' in {report.env_source}, the contract says "
        f"{provider.task_env()['AUTOMATION_DATA_ROOT']!r} -- a values file overrides it: remove that override"]
    assert parity.check(provider.runner, provider, plain, tmp_path / "dags", server=False).problems == []
    assert parity.dags_fingerprint(tmp_path / "dags", provider, plain) != \
        parity.dags_fingerprint(tmp_path / "dags", provider, overridden)
    assert not (tmp_path / "state").exists() or not any((tmp_path / "state").rglob("*.yaml"))
