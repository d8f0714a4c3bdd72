"""The Composer rehearsal on a real Kubernetes: Airflow from the chart at two Airflow versions (the pinned one
and the rehearsed Composer image's), on Composer's executor (Celery workers, a Redis broker built here), task
pods under Composer's contract, started through the kubeconfig file at Composer's path whose identity may run
pods in composer-user-workloads only, every example end to end with its output read back from the emulated
bucket.

Runs against the composer-rehearsal target named by AUTOMATION_REHEARSAL_TARGET (CI: `ci-rehearsal`, on the
same cluster and namespace as the lifecycle tests, which purge their target when they end)."""

from __future__ import annotations

import json
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
from automation.providers.rehearsal import TASK_LAUNCHER
from automation.settings import load_target
from automation.settings.contract import COMPOSER_KUBE_CONFIG, COMPOSER_NAMESPACE
from tests.browser import run_journey
from tests.cluster.support import printed_url, purge, reset_external_db
from tests.conftest import REPO, need, run_cli
from tests.dag_files.test_example_scripts import SALES, expected_summary, parse_summary
from tests.google_double import GoogleDouble
from tests.google_double.service import ACCESS_TOKEN

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
    def __init__(self, version: str, overlay: Path, google: dict[str, str]):
        self.version = version
        settings = os.environ.get("AUTOMATION_SETTINGS", "")
        # gcloud as on a machine signed in to Google: the double's token, which its tokeninfo vouches for.
        self.env = {"AUTOMATION_SETTINGS": f"{settings}:{overlay}" if settings else str(overlay), **google}
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

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        client = AirflowApi(self.url)
        try:
            client.login(self.user, self.password)
            return client.task_instances(dag_id, run_id)
        finally:
            client.close()

    def task_log(self, dag_id: str, run_id: str, task_id: str) -> str:
        client = AirflowApi(self.url)
        try:
            client.login(self.user, self.password)
            return "\n".join(client.task_log(dag_id, run_id, task_id, 1))
        finally:
            client.close()


@pytest.fixture(scope="module")
def google(tmp_path_factory: Any) -> Iterator[GoogleDouble]:
    """The Google APIs double where the rehearsal's API server (in a pod) asks about access tokens."""
    host = os.environ.get("CI_HOST_FROM_PODS", "")
    need(bool(host), "CI_HOST_FROM_PODS: the address pods reach this machine at (CI: 10.244.0.1)")
    with GoogleDouble(host=host) as double:
        yield double


@pytest.fixture(scope="module", params=rehearsal_versions(), ids=lambda v: f"airflow-{v}")
def rehearsal(request: Any, k8s_cluster: Any, tmp_path_factory: Any, base_image: str,
              google: GoogleDouble) -> Iterator[Rehearsal]:
    need(bool(REHEARSAL), "AUTOMATION_REHEARSAL_TARGET names no target (CI: ci-rehearsal)")
    folder = tmp_path_factory.mktemp("rehearsal")
    overlay = folder / "version.yaml"
    overlay.write_text(f"targets:\n  {REHEARSAL}:\n    airflow_version: '{request.param}'\n"
                       f"    images: {{base_image: '{base_image}'}}\n"
                       f"    tokeninfo_url: '{google.url}/oauth2/oauth2/v2/tokeninfo'\n")
    tags = REPO / "dags/common/images.json"
    committed = tags.read_text()
    subject = Rehearsal(request.param, overlay, google.environment(folder / "gcloud"))
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
    for kind, name in (("ConfigMap", "example1"), ("Secret", "example1"), ("Role", TASK_LAUNCHER)):
        assert state.get(kind, name, COMPOSER_NAMESPACE) is not None, f"{kind}/{name}"
    # Composer's executor: Celery workers and their broker are up (`up` waited for them).
    assert "worker 1/1" in up.stdout and "redis 1/1" in up.stdout, up.stdout
    assert state.get("ConfigMap", "example1", target.namespace) is None
    # The task code is in the environment bucket, under the same path as in dags/.
    with rehearsal.provider.storage():
        from upath import UPath

        code = UPath(f"{rehearsal.provider.task_pod_facts().code_root}/example1/scripts/extract.py")
        assert code.read_bytes() == (REPO / "dags/example1/scripts/extract.py").read_bytes()


def test_the_api_takes_a_google_token_as_composers_does(rehearsal: Rehearsal, google: GoogleDouble) -> None:
    """Composer's sign-in on the rehearsal's API server: the token gcloud prints is accepted (its account is
    registered as an Airflow user on first use), a token Google does not vouch for is refused, and `up` wrote the
    connections, variables and pools with that token."""
    client = AirflowApi(rehearsal.url)
    try:
        client.use_token("made-up-token")
        refused = client.request("GET", "/api/v2/dags", ok=(401, 403))
        assert refused.status_code == 403
        client.use_token(ACCESS_TOKEN)
        pool = client.request("GET", "/api/v2/pools/example_db").json()
        assert pool["slots"] == 1
        variable = client.request("GET", "/api/v2/variables/example_db_table").json()
        assert variable["value"] == "example_db_readings"
    finally:
        client.close()
    asked = [r for r in google.state.records if r.method == "oauth2.tokeninfo"]
    assert {r.status for r in asked} == {200, 400}, asked


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


# Run in a worker pod: the kubeconfig file at Composer's path, then the worker's own identity, each asked to
# create a pod (a server-side dry run: authorized like a real create, nothing made) in both namespaces.
_PROBE = """
import json
from kubernetes import client, config

def create(api, namespace):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe"},
           "spec": {"containers": [{"name": "c", "image": "probe:1"}]}}
    try:
        api.create_namespaced_pod(namespace, pod, dry_run="All")
        return 201
    except client.ApiException as exc:
        return exc.status

launcher = client.CoreV1Api(config.new_client_from_config(config_file=%r))
config.load_incluster_config()
own = client.CoreV1Api()
print(json.dumps({who: {ns: create(api, ns) for ns in %r} for who, api in (("file", launcher), ("own", own))}))
"""


def test_workers_start_pods_in_composers_namespace_only(rehearsal: Rehearsal) -> None:
    """What Composer's workers can do, on the rehearsal's: the identity of the kubeconfig file at Composer's path
    creates pods in composer-user-workloads and is refused (403) anywhere else; the worker's own identity is
    refused everywhere, so a task that bypassed the file could not start a pod at all."""
    namespaces = (COMPOSER_NAMESPACE, rehearsal.target.namespace)
    kubectl = ["kubectl", *rehearsal.provider.cluster.kubectl_args(), "-n", rehearsal.target.namespace]
    probe = subprocess.run([*kubectl, "exec", f"deployment/{rehearsal.target.release}-worker", "-c", "worker", "--",
                            "python", "-c", _PROBE % (COMPOSER_KUBE_CONFIG, namespaces)],
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found == {"file": {COMPOSER_NAMESPACE: 201, rehearsal.target.namespace: 403},
                     "own": {COMPOSER_NAMESPACE: 403, rehearsal.target.namespace: 403}}, found


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
            # A Celery worker ran the task (the KubernetesExecutor would have run it in a pod of its own).
            assert {ti["hostname"].rsplit("-", 2)[0] for ti in rehearsal.task_instances("example1", run_id.group(1))} \
                == {f"{rehearsal.target.release}-worker"}
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
