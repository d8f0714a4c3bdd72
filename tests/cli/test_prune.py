"""`prune`, in process (`main(argv)`) against an in-memory cluster: it deletes the failed and never-started task
pods of the target's task namespace and nothing else, a dry run lists them and deletes none, a second run finds
nothing; bad cases are one error line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from automation.cli.main import main
from automation.core import paths
from automation.k8s.cluster import Unreachable
from automation.providers.base import Provider
from tests.doctor.conftest import FakeCluster
from tests.doctor.test_resources import task_pod


class Cluster(FakeCluster):
    """Deletes for real, so that a second run sees what the first one left."""

    def delete(self, kind: str, name: str, namespace: str | None = None, grace_seconds: int | None = None) -> bool:
        super().delete(kind, name, namespace, grace_seconds)
        before = len(self.objects.get(kind, []))
        self.objects[kind] = [o for o in self.objects.get(kind, []) if o["metadata"]["name"] != name]
        return len(self.objects[kind]) < before


def failed(name: str, *, checked: bool = True) -> dict[str, Any]:
    pod = task_pod(name, None, checked=checked, phase="Failed")
    pod["status"]["containerStatuses"] = [{"name": "base", "state": {"terminated": {"exitCode": 1}}}]
    return pod


def running(name: str) -> dict[str, Any]:
    pod = task_pod(name, None, phase="Running")
    pod["status"]["containerStatuses"] = [{"name": "base", "state": {"running": {}}}]
    return pod


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Cluster:
    monkeypatch.delenv("AUTOMATION_SETTINGS", raising=False)
    monkeypatch.setattr(paths, "STATE_ROOT", tmp_path / "state")
    found = Cluster({"Pod": [
        task_pod("pull-backoff", "ImagePullBackOff"),  # its worker died: no mark, but it can never start
        task_pod("gave-up", None, checked=True),  # never scheduled, and its task gave up on it
        failed("failed-marked"),
        failed("failed-unmarked", checked=False),  # its worker died before the cleanup
        task_pod("waiting-for-room", None),  # its task may still be waiting for it
        running("running"),
        task_pod("other-namespace", "ImagePullBackOff", namespace="team-b"),
        {"metadata": {"name": "not-a-task-pod", "namespace": "airflow", "labels": {"component": "scheduler"}},
         "status": {"phase": "Failed"}},
    ]})
    monkeypatch.setattr(Provider, "state", lambda self: found)
    return found


def test_prune_deletes_the_failed_and_never_started_task_pods_and_nothing_else(
        cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "--target", "existing"]) == 0
    assert sorted(name for _, name in cluster.deleted) == ["failed-marked", "failed-unmarked", "gave-up",
                                                           "pull-backoff"]
    out = capsys.readouterr().out
    assert "delete Pod/pull-backoff -n airflow (dag d, task t: never started (ImagePullBackOff))" in out
    assert "delete Pod/failed-marked -n airflow (dag d, task t: failed)" in out
    assert "ok: 4 task pod(s) deleted" in out
    # Safe to re-run: nothing left to do.
    assert main(["prune", "--target", "existing"]) == 0
    assert len(cluster.deleted) == 4
    assert "ok: nothing to prune" in capsys.readouterr().out


def test_a_dry_run_lists_the_pods_and_deletes_none(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "--target", "existing", "--dry-run"]) == 0
    assert cluster.deleted == []
    planned = [line for line in capsys.readouterr().out.splitlines() if "[dry-run] delete Pod/" in line]
    assert len(planned) == 4, planned


def test_composer_says_what_does_it_there(cluster: Cluster, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["prune", "--target", "composer"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: pruning task pods needs kubectl access")
    assert "-- use: the operator's own cleanup" in err[0]
    assert cluster.deleted == []


def test_an_unreachable_cluster_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("AUTOMATION_SETTINGS", raising=False)
    monkeypatch.setattr(Provider, "state", lambda self: Unreachable("connection refused"))
    assert main(["prune", "--target", "existing"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: the cluster of target 'existing' is not reachable: connection refused -- start it: "
                   "nox -s up -- --target existing"]
    assert main(["prune", "--target", "existing", "--dry-run"]) == 0
    assert "[dry-run] delete the failed and never-started task pods in namespace airflow" in capsys.readouterr().out
