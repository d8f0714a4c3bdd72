"""Mounts as the node sees them: the probe pod, reading its answer, and targets without mounts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from automation.doctor.checks import mounts
from automation.doctor.probe import Probe
from automation.settings.model import Mount, Mounts
from tests.doctor.conftest import FakeCluster

CLAIMS = {"PersistentVolumeClaim": [{"metadata": {"name": "airflow-dags"}}, {"metadata": {"name": "airflow-data"}}]}


def test_the_probe_pod_mounts_each_claim_read_only_and_runs_unprivileged() -> None:
    pod = mounts.probe_pod("p", "airflow", "apache/airflow:3.2.0", {"airflow-dags": ".doctor-x"})
    spec = pod["spec"]
    assert spec["volumes"] == [{"name": "airflow-dags",
                                "persistentVolumeClaim": {"claimName": "airflow-dags", "readOnly": True}}]
    container = spec["containers"][0]
    assert container["volumeMounts"][0]["readOnly"] is True
    assert container["securityContext"]["runAsUser"] == 50000 and spec["restartPolicy"] == "Never"
    assert "/probe/airflow-dags/.doctor-x" in container["command"][2]


def test_reading_the_pods_answer() -> None:
    assert mounts.read_back("found airflow-dags abc\nmissing airflow-data\nnoise\n") == \
        {"airflow-dags": "abc", "airflow-data": None}


def test_targets_without_host_folders_are_not_applicable(probe_for: Callable[..., Probe]) -> None:
    finding = mounts.check_mounts(probe_for("gke"))
    assert finding.status == "n/a" and "mounts no folder of this machine" in finding.message


def test_a_file_the_pod_cannot_see_blocks_and_the_probe_cleans_up(probe_for: Callable[..., Probe],
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  tmp_path: Path) -> None:
    cluster = FakeCluster(dict(CLAIMS))
    probe = probe_for("existing", cluster)
    for name in ("dags", "data"):
        (tmp_path / name).mkdir()
    probe.target = probe.provider.target = replace(probe.target, mounts=Mounts(
        Mount(str(tmp_path / "dags"), "/node/dags"), Mount(str(tmp_path / "data"), "/node/data")))
    seen: list[Path] = []

    def pod_ran(live: object, name: str, namespace: str) -> tuple[str, str]:
        seen.extend(tmp_path.glob("*/.doctor-*"))
        token = seen[0].read_text()
        return "Succeeded", f"found airflow-dags {token}\nmissing airflow-data\n"

    monkeypatch.setattr(mounts, "wait", pod_ran)
    finding = mounts.check_mounts(probe)
    assert finding.status == "blocker" and "not visible in a pod through airflow-data" in finding.message
    assert seen and not any(p.exists() for p in seen)  # the files written are removed
    assert cluster.applied[0]["kind"] == "Pod" and cluster.deleted == [("Pod", cluster.applied[0]["metadata"]["name"])]


def test_absent_claims_block_with_up(probe_for: Callable[..., Probe]) -> None:
    finding = mounts.check_mounts(probe_for("existing", FakeCluster({})))
    assert finding.status == "blocker" and "absent" in finding.message and "nox -s up" in finding.fix
