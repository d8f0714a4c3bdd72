"""The Composer rehearsal on a real Kubernetes: Airflow from the chart at two Airflow versions (the pinned one
and the rehearsed Composer image's 3.1.x), task pods under Composer's contract, every example end to end with
its output read back from the emulated bucket.

Runs against the composer-rehearsal target named by AUTOMATION_REHEARSAL_TARGET (CI: `ci-rehearsal`, on the
same cluster and namespace as the lifecycle tests, which purge their target when they end)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from automation.airflow.client import AirflowApi
from automation.core.runner import Runner
from automation.core.versions import VERSIONS
from automation.k8s.cluster import LiveCluster
from automation.providers import provider_for
from automation.settings import load_target
from automation.settings.contract import COMPOSER_NAMESPACE
from tests.browser import run_journey
from tests.cluster.support import printed_url, purge, reset_external_db
from tests.conftest import REPO, need, run_cli
from tests.dag_files.test_example_scripts import SALES, expected_summary, parse_summary

pytestmark = pytest.mark.cluster
REHEARSAL = os.environ.get("AUTOMATION_REHEARSAL_TARGET", "")
EXAMPLES = ("example1", "example_db", "example_notebook")
FIGURES: dict[str, float] = {}


def rehearsal_versions() -> list[str]:
    """The pinned Airflow, and the one of the Composer image the target rehearses."""
    if not REHEARSAL:
        return [VERSIONS.airflow]
    composer = load_target(REHEARSAL).composer
    rehearsed = composer.airflow_version if composer else None
    return list(dict.fromkeys([VERSIONS.airflow, rehearsed or VERSIONS.airflow]))


class Rehearsal:
    def __init__(self, version: str, overlay: Path):
        self.version = version
        settings = os.environ.get("AUTOMATION_SETTINGS", "")
        self.env = {"AUTOMATION_SETTINGS": f"{settings}:{overlay}" if settings else str(overlay)}
        os.environ["AUTOMATION_SETTINGS"] = self.env["AUTOMATION_SETTINGS"]
        try:
            self.target = load_target(REHEARSAL)
        finally:
            if settings:
                os.environ["AUTOMATION_SETTINGS"] = settings
            else:
                os.environ.pop("AUTOMATION_SETTINGS")
        self.provider = provider_for(Runner(), self.target)
        state = self.provider.state()
        need(isinstance(state, LiveCluster), f"a reachable cluster for target {REHEARSAL}")
        assert isinstance(state, LiveCluster)
        self.state = state
        self.url = self.user = self.password = ""

    def cli(self, *args: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
        result = run_cli(*args, "--target", REHEARSAL, env=self.env, timeout=timeout)
        print(f"$ automation {' '.join(args)} --target {REHEARSAL} (Airflow {self.version}) -> {result.returncode}"
              f"\n{result.stdout}\n{result.stderr}")
        return result

    def read_output(self, relative: str) -> str:
        """A file of the data bucket, read through the emulator from this machine."""
        from upath import UPath

        with self.provider.storage():
            return (UPath(f"{self.provider.task_pod_facts().data_root}/{relative}")).read_text()

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        client = AirflowApi(self.url)
        try:
            client.login(self.user, self.password)
            return "\n".join(client.task_log(dag_id, run_id, task_id, 1))
        finally:
            client.close()


@pytest.fixture(scope="module", params=rehearsal_versions(), ids=lambda v: f"airflow-{v}")
def rehearsal(request: Any, k8s_cluster: Any, tmp_path_factory: Any, base_image: str) -> Iterator[Rehearsal]:
    need(bool(REHEARSAL), "AUTOMATION_REHEARSAL_TARGET names no target (CI: ci-rehearsal)")
    overlay = tmp_path_factory.mktemp("rehearsal") / "version.yaml"
    overlay.write_text(f"targets:\n  {REHEARSAL}:\n    airflow_version: '{request.param}'\n"
                       f"    images: {{base_image: '{base_image}'}}\n")
    tags = REPO / "dags/common/images.json"
    committed = tags.read_text()
    subject = Rehearsal(request.param, overlay)
    try:
        yield subject
    finally:
        tags.write_text(committed)
        purge(subject.cli, subject.target)


def test_up_from_nothing_at_the_version(rehearsal: Rehearsal) -> None:
    target, state = rehearsal.target, rehearsal.state
    purged = rehearsal.cli("down", "--purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert state.get("Namespace", COMPOSER_NAMESPACE) is None
    reset_external_db(target)
    started = time.monotonic()
    up = rehearsal.cli("up")
    assert up.returncode == 0, up.stderr
    FIGURES[f"up {rehearsal.version}"] = time.monotonic() - started
    assert f"Airflow {rehearsal.version})" in up.stdout
    assert "task pods fit it" in up.stdout
    rehearsal.url, rehearsal.user, rehearsal.password = printed_url(up.stdout)
    client = AirflowApi(rehearsal.url)
    try:
        assert client.version() == rehearsal.version
    finally:
        client.close()
    # Composer's side of the contract, as the cluster holds it: projects and the task role in its namespace.
    for kind, name in (("ConfigMap", "example1"), ("Secret", "example1"), ("Role", "airflow-task-pods")):
        assert state.get(kind, name, COMPOSER_NAMESPACE) is not None, f"{kind}/{name}"
    assert state.get("ConfigMap", "example1", target.namespace) is None
    # The task code is in the environment bucket, under the same path as in dags/.
    with rehearsal.provider.storage():
        from upath import UPath

        code = UPath(f"{rehearsal.provider.task_pod_facts().code_root}/example1/scripts/extract.py")
        assert code.read_bytes() == (REPO / "dags/example1/scripts/extract.py").read_bytes()


def test_again_changes_nothing(rehearsal: Rehearsal) -> None:
    up = rehearsal.cli("up")
    assert up.returncode == 0, up.stderr
    assert "apply " not in up.stdout and "upgrade --install" not in up.stdout
    assert "upload " not in up.stdout and "create bucket" not in up.stdout


def test_parity_check_sends_task_pods_to_the_api_server(rehearsal: Rehearsal) -> None:
    ok = rehearsal.cli("dags")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    accepted = re.search(r"(\d+) task pods fit it .*; (\d+) objects and pods accepted by the API server", ok.stdout)
    assert accepted and int(accepted.group(2)) > int(accepted.group(1)) >= 6, ok.stdout


def test_every_example_end_to_end(rehearsal: Rehearsal) -> None:
    images = rehearsal.cli("images")
    assert images.returncode == 0, images.stderr
    for dag in EXAMPLES:
        started = time.monotonic()
        e2e = rehearsal.cli("e2e", "--dag", dag, "--timeout", "600")
        FIGURES[f"e2e {dag} {rehearsal.version}"] = time.monotonic() - started
        assert e2e.returncode == 0, e2e.stdout + e2e.stderr
        assert re.search(r"output gs://\S+: \d+ bytes, written by this run", e2e.stdout), e2e.stdout
        if dag == "example1":
            run_id = re.search(r"ok: run (\S+) succeeded", e2e.stdout)
            assert run_id, e2e.stdout
            # No volume at all in the task pod; the project's ConfigMap and Secret reached it as on Composer.
            log = rehearsal.task_log("example1", run_id.group(1), "extract")
            assert "pod facts: dags absent; config INPUT_FILE set; secret API_TOKEN set" in log
            assert re.search(r"launch.py: \d+ files of gs://\S+/dags/example1 fetched", log), log
    # The output, read back from the emulated bucket, is the right answer (not just a file).
    assert parse_summary(rehearsal.read_output("example1/output/summary.csv")) == expected_summary(SALES)
    events = rehearsal.state.list("Event", COMPOSER_NAMESPACE)
    scheduled = {e["involvedObject"]["name"].rsplit("-", 1)[0] for e in events if e.get("reason") == "Scheduled"}
    assert {"example1-extract", "example1-transform", "example1-load", "example-db-write-rows",
            "example-notebook-report"} <= scheduled, scheduled
    print("figures (s): " + ", ".join(f"{k} {v:.0f}" for k, v in FIGURES.items()))


def test_the_ui_in_a_browser_as_after_up(rehearsal: Rehearsal) -> None:
    """The browser journey of tests/cluster/test_browser_ui.py on the rehearsal: its task pods run in Composer's
    namespace, its workers in the target's."""
    state, namespaces = rehearsal.state, (rehearsal.target.namespace, COMPOSER_NAMESPACE)

    def task_pods() -> list[str]:
        return [p["metadata"]["name"] for ns in namespaces
                for p in state.list("Pod", ns, "dag_id=example1,task_id=extract")]

    started = time.monotonic()
    run_journey(rehearsal.url, rehearsal.user, rehearsal.password, f"{REHEARSAL}-{rehearsal.version}",
                task_pods=task_pods)
    FIGURES[f"browser {rehearsal.version}"] = time.monotonic() - started


def test_purge_deletes_both_namespaces(rehearsal: Rehearsal) -> None:
    purge(rehearsal.cli, rehearsal.target)
    for namespace in (rehearsal.target.namespace, COMPOSER_NAMESPACE):
        assert rehearsal.state.get("Namespace", namespace) is None
