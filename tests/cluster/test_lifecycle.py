"""The whole lifecycle on a real Kubernetes, through the product's public commands, in order.

Runs against the kube-context target named by AUTOMATION_CLUSTER_TARGET (CI: `ci`, the local single-node
cluster). With CI=true a missing cluster fails these tests instead of skipping them."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import yaml

from automation.airflow.client import AirflowApi
from automation.core.versions import VERSIONS
from tests.cluster.support import (
    PRINTED,
    airflow_pods,
    api,
    cli,
    cluster_target,
    fernet_key,
    kubectl,
    lock_file,
    printed_url,
    purge,
    reset_external_db,
    resource_versions,
    token,
    wait_until,
)
from tests.conftest import HOST_CA, REPO, need
from tests.dag_files.test_example_scripts import SALES, expected_summary, parse_summary

pytestmark = pytest.mark.cluster
SHARED: dict[str, Any] = {}
CONN_ID = "cluster_test_conn"
MISSING_IMAGE_DAG = '''"""Airflow DAG written by the cluster tests: its task's image was never loaded."""
from common.utils import project_dag, project_task

with project_dag("example1", "cluster_test_missing_image", output="output/never.csv"):
    task = project_task("example1", "pull", "example1/scripts/extract.py", args=["--run-id", "x"])
    task.image = "never-loaded-image:0.0.1"
'''


WRONG_ACCOUNT_DAG = '''"""Airflow DAG written by the cluster tests: its task names a ServiceAccount the target lacks."""
from common.utils import project_dag, project_task

with project_dag("example1", "wrong_account", output="output/never.csv"):
    project_task("example1", "task", "example1/scripts/extract.py", service_account_name="no-such-account")
'''


def task_log(url: str, dag_id: str, run_id: str, task_id: str) -> str:
    client = AirflowApi(url)
    try:
        client.login(SHARED["user"], SHARED["password"])
        return "\n".join(client.task_log(dag_id, run_id, task_id, 1))
    finally:
        client.close()


@pytest.fixture(scope="module")
def env(k8s_cluster: Any) -> Any:
    # `images` records the tags it built (on CI's base image) in dags/common/images.json: put back the
    # committed file when these tests end.
    tags = REPO / "dags/common/images.json"
    committed = tags.read_text()
    yield cluster_target()
    tags.write_text(committed)


def overlay(folder: Any, target: Any, **settings: Any) -> str:
    """A settings file that changes `settings` of the target."""
    path = folder / f"settings-{'-'.join(settings)}.yaml"
    path.write_text(yaml.safe_dump({"targets": {target.name: settings}}))
    return str(path)


@pytest.fixture(scope="module")
def previous(env: Any, tmp_path_factory: Any) -> str:
    """--settings that make the target run the pin before this one: the environment the upgrade starts from."""
    return overlay(tmp_path_factory.mktemp("previous"), env[0], airflow_version=VERSIONS.airflow_previous)


def history(url: str) -> dict[str, Any]:
    """What an upgrade must keep, read through the API: every run of the example DAGs, the XCom values of
    example_xcom's runs, the variables and pools, and the connections' ids."""
    found: dict[str, Any] = {}
    with api(url, token(url, SHARED["user"], SHARED["password"])) as client:
        for dag in ("example1", "example_db", "example_notebook", "example_xcom"):
            listed = client.get(f"/api/v2/dags/{dag}/dagRuns", params={"limit": 100})
            assert listed.status_code == 200, f"{dag}'s runs: {listed.status_code} {listed.text[:500]}"
            runs = listed.json()["dag_runs"]
            found[dag] = sorted((run["dag_run_id"], run["state"]) for run in runs)
            if dag == "example_xcom":
                for run_id, _ in found[dag]:
                    entries = client.get(f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances/~/xcomEntries",
                                         params={"deserialize": True}).json()["xcom_entries"]
                    found[f"xcom {run_id}"] = sorted((e["task_id"], e["key"], str(e.get("value"))) for e in entries)
        found["variables"] = sorted((v["key"], v["value"]) for v in
                                    client.get("/api/v2/variables").json()["variables"])
        found["pools"] = sorted((p["name"], p["slots"]) for p in client.get("/api/v2/pools").json()["pools"])
        found["connections"] = sorted(c["connection_id"] for c in
                                      client.get("/api/v2/connections").json()["connections"])
    return found


def connection_password(target: Any) -> str:
    """The test connection decrypted by Airflow itself, with the Fernet key the release has now."""
    got = kubectl(target, "exec", f"deploy/{target.release}-scheduler", "-c", "scheduler", "--",
                  "airflow", "connections", "get", CONN_ID, "-o", "json")
    assert got.returncode == 0, got.stderr
    return got.stdout


def database_revision(target: Any) -> str | None:
    from automation.core.runner import Runner
    from automation.k8s.airflow_secrets import external_db_url
    from automation.k8s.metadata_db import ExternalDatabase

    return ExternalDatabase(Runner(out=open(os.devnull, "w")), external_db_url(target)).revision()


def serving_images(target: Any, seen: set[str], done: threading.Event) -> None:
    """Until `done`: the images of the api-server's Ready pods, as often as kubectl answers."""
    import json

    while not done.wait(2):
        listed = kubectl(target, "get", "pods", "-l", f"component=api-server,release={target.release}", "-o", "json")
        for pod in json.loads(listed.stdout or '{"items": []}')["items"] if listed.returncode == 0 else []:
            conditions = (pod.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                seen.update(c["image"] for c in pod["spec"]["containers"])


def test_up_from_nothing(env: Any, previous: str) -> None:
    """A cold `up`, at the pin before this one: the first tests make history there, which the upgrade to the pin
    must keep; every test after the upgrade runs the pin."""
    target, state = env
    purged = cli("down", "--purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    assert state.get("Namespace", target.namespace) is None
    reset_external_db(target)
    started = time.monotonic()
    up = cli("up", "--settings", previous)
    assert up.returncode == 0, up.stderr
    SHARED["cold_up_seconds"] = time.monotonic() - started
    url, user, password = printed_url(up.stdout)
    SHARED.update(url=url, user=user, password=password, fernet=fernet_key(state, target))
    status = cli("status", "--settings", previous)
    for component in ("api-server 1/1", "scheduler 1/1", "dag-processor 1/1", "triggerer 1/1"):
        assert component in status.stdout
    with api(url, token(url, user, password)) as client:
        version = client.get("/api/v2/version")
    assert version.status_code == 200 and version.json()["version"] == VERSIONS.airflow_previous


def test_connection_with_password_is_stored(env: Any) -> None:
    url = SHARED["url"]
    with api(url, token(url, SHARED["user"], SHARED["password"])) as client:
        client.delete(f"/api/v2/connections/{CONN_ID}")
        created = client.post("/api/v2/connections", json={
            "connection_id": CONN_ID, "conn_type": "postgres", "host": "db.example", "login": "u",
            "password": "s3cret-survives-restarts"})
    assert created.status_code in (200, 201, 409), created.text


EXAMPLES = ("example1", "example_db", "example_notebook", "example_xcom")


def test_every_example_runs_at_the_previous_pin(env: Any, base_image: str, previous: str) -> None:
    """The history the upgrade keeps: a run of every example DAG (side by side, as a team's DAGs run), their task
    logs and XCom values, with the connection above and airflow.yaml's variables and pools."""
    images = cli("images", "--base-image", base_image, *(["--ca-bundle", str(HOST_CA)] if HOST_CA.is_file() else []))
    assert images.returncode == 0, images.stderr
    with ThreadPoolExecutor(max_workers=len(EXAMPLES)) as pool:
        runs = dict(zip(EXAMPLES, pool.map(
            lambda dag: cli("e2e", "--dag", dag, "--timeout", "600", "--settings", previous), EXAMPLES), strict=True))
    for dag, e2e in runs.items():
        assert e2e.returncode == 0, f"{dag}: {e2e.stdout}{e2e.stderr}"
    run_id = re.search(r"ok: run (\S+) succeeded", runs["example1"].stdout)
    assert run_id, runs["example1"].stdout
    SHARED["example1_run"] = run_id.group(1)


def undone(result: Any, target: Any, state: Any, previous: str, before: dict[str, Any], revision: str | None) -> str:
    """A failed upgrade `up` undid: one error line, the migration Job and every Airflow component stopped before
    the restore, and the previous version back with everything it had. Its stdout."""
    assert result.returncode == 2, result.stdout + result.stderr
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "failed and was undone" in error[0], result.stderr
    assert f"(Airflow {VERSIONS.airflow_previous}), Ready, with its database restored" in error[0], error[0]
    assert "Traceback" not in result.stderr
    # No component of either version ran while the database was restored, and no migration pod is left to
    # migrate it again.
    stopped = next(line for line in result.stdout.splitlines() if "stopped until the rollback makes them" in line)
    for workload in ("Deployment/{0}-api-server", "Deployment/{0}-scheduler", "Deployment/{0}-triggerer"):
        assert workload.format(target.release) in stopped, stopped
    assert state.list("Pod", target.namespace, f"component=run-airflow-migrations,release={target.release}") == []
    assert database_revision(target) == revision
    up = cli("up", "--settings", previous, "--skip-dags-check")  # the same version again: nothing to change
    assert up.returncode == 0, up.stderr
    assert "version change" not in up.stdout
    url, _, _ = printed_url(up.stdout)
    SHARED["url"] = url
    with api(url, token(url, SHARED["user"], SHARED["password"])) as client:
        assert client.get("/api/v2/version").json()["version"] == VERSIONS.airflow_previous
    assert history(url) == before
    assert "s3cret-survives-restarts" in connection_password(target)
    return str(result.stdout)


def test_a_failed_migration_is_rolled_back_with_the_data(env: Any, tmp_path: Any, previous: str) -> None:
    """The migration job fails, as one that breaks midway does: `up` stops it, restores the backup, rolls the
    release back, and the old version runs with everything it had."""
    target, state = env
    before, revision = history(SHARED["url"]), database_revision(target)
    failing = tmp_path / "failing-migration.yaml"
    fails = ["bash", "-c", "echo 'migration fails on purpose' >&2; exit 3"]
    failing.write_text(yaml.safe_dump({"migrateDatabaseJob": {"args": fails}}))
    # Helm waits for the failing Job (retried by Kubernetes) until ready_timeout.
    result = cli("up", "--settings", overlay(tmp_path, target, ready_timeout=30), "--values", str(failing),
                 "--skip-dags-check")
    out = undone(result, target, state, previous, before, revision)
    # Helm gave up on the Job while Kubernetes retried it: stopped before the restore, or it would migrate the
    # restored database again.
    assert f"stopped: Job/{target.release}-run-airflow-migrations and its pods" in out, out


def test_a_failed_verification_after_a_complete_migration_is_undone(env: Any, tmp_path: Any, previous: str) -> None:
    """The migration completes and the new version's pods start and serve, then `up`'s verification fails: here
    the new release reads another Fernet key, so its scheduler cannot decrypt the connections. `up` stops every
    component of both versions before the restore (the new version would write to the database meanwhile), then
    rolls back; the old version runs with everything it had."""
    import base64

    from cryptography.fernet import Fernet

    target, state = env
    before, revision = history(SHARED["url"]), database_revision(target)
    other = f"{target.release}-other-fernet-key"
    state.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": other, "namespace": target.namespace},
                 "data": {"fernet-key": base64.b64encode(Fernet.generate_key()).decode()}})
    wrong_key = tmp_path / "wrong-key.yaml"
    wrong_key.write_text(yaml.safe_dump({"fernetKeySecretName": other}))
    seen: set[str] = set()
    done = threading.Event()
    watcher = threading.Thread(target=serving_images, args=(target, seen, done), daemon=True)
    watcher.start()
    try:
        result = cli("up", "--values", str(wrong_key), "--skip-dags-check")
    finally:
        done.set()
        watcher.join()
        state.delete("Secret", other, target.namespace)
    out = undone(result, target, state, previous, before, revision)
    assert "upgrade failed: after the upgrade the scheduler cannot decrypt the connections: " in out, out
    assert "InvalidToken" in out, out
    # The new version served before the failure: what the stop before the restore is for.
    assert any(image.endswith(f":{VERSIONS.airflow}") for image in seen), seen


def test_upgrade_keeps_history_logs_xcom_and_objects(env: Any) -> None:
    """`up` at the pin moves the environment made at the pin before it: everything it had reads back equal."""
    target, _ = env
    before = history(SHARED["url"])
    assert all(before[dag] for dag in EXAMPLES) and ("example_db_table", "example_db_readings") in before["variables"]
    revision = database_revision(target)
    started = time.monotonic()
    result = cli("up", "--skip-dags-check")
    SHARED["upgrade_seconds"] = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"version change: Airflow {VERSIONS.airflow_previous} -> {VERSIONS.airflow}" in result.stdout
    # `up` itself checked, through the new version, what it read through the old one.
    verified = re.search(r"verified: (\d+) DAGs listed as before, the log of (\S+) \S+ (\S+) read \(\d+ lines\), "
                         r"(\d+) connections decrypted", result.stdout)
    assert verified, result.stdout
    assert int(verified.group(1)) >= len(EXAMPLES) and verified.group(2) in EXAMPLES and int(verified.group(4)) >= 1
    backups = sorted((REPO / ".state" / target.name / "backups").glob(f"*-{revision}.sql"))
    assert backups and backups[-1].stat().st_mode & 0o077 == 0
    url, _, _ = printed_url(result.stdout)
    SHARED["url"] = url
    with api(url, token(url, SHARED["user"], SHARED["password"])) as client:
        assert client.get("/api/v2/version").json()["version"] == VERSIONS.airflow
    assert database_revision(target) != revision
    assert history(url) == before
    # The extract task's log of the first run, written by a pod deleted long ago, read through the new version.
    assert "rows" in task_log(url, "example1", SHARED["example1_run"], "extract")
    assert "s3cret-survives-restarts" in connection_password(target)
    # Every example runs again at the pin: the tests below (example1 here, the others after it).


def test_up_again_changes_nothing(env: Any) -> None:
    target, state = env
    before = resource_versions(state, target)
    started = time.monotonic()
    up = cli("up")
    took = time.monotonic() - started
    print(f"no-op up took {took:.1f}s")
    assert up.returncode == 0, up.stderr
    assert "upgrade --install" not in up.stdout
    assert "already runs this chart with these values" in up.stdout
    assert "apply " not in up.stdout  # no object rewritten
    assert resource_versions(state, target) == before
    assert fernet_key(state, target) == SHARED["fernet"]


def test_release_read_from_helms_storage_is_what_helm_reports(env: Any) -> None:
    """`up` reads the release from Helm's Secrets (one API request) instead of running helm twice: both sides
    of that format, the writer (helm) and our reader, on the real release."""
    import io

    from automation.core.runner import Runner
    from automation.k8s.helm import normalize
    from automation.providers import provider_for

    target, _ = env
    cluster = provider_for(Runner(out=io.StringIO()), target).cluster
    assert cluster is not None
    helm = cluster.helm()
    assert helm.state is not None
    stored, values = helm.release(), helm.deployed_values()
    assert stored is not None and stored.status == "deployed"
    assert stored == helm.release_from_cli()
    assert values is not None and normalize(values) == normalize(helm.deployed_values_from_cli() or {})
    assert "executor" in values  # the values `up` gave, not the chart's defaults


def test_up_prunes_what_it_made_and_leaves_what_it_did_not(env: Any, tmp_path: Any) -> None:
    """A key removed from a project's file and a project removed from the settings are removed from the
    cluster; a ConfigMap of the same name made by hand is left as it is, with a warning."""
    target, state = env
    projects = tmp_path / "k8s"
    shutil.copytree(REPO / target.projects_dir, projects)
    config = projects / "example1" / "config.env"
    config.write_text(config.read_text() + "EXTRA_KEY=1\n")
    overlay = tmp_path / "projects.yaml"

    def up_with(names: list[str]) -> str:
        overlay.write_text(yaml.safe_dump({"targets": {target.name: {"projects_dir": str(projects),
                                                                       "projects": names}}}))
        # The DAG check would refuse a project dropped while its DAG still reads it (shown elsewhere): skipped.
        result = cli("up", "--settings", str(overlay), "--skip-dags-check")
        assert result.returncode == 0, result.stderr
        return result.stdout

    every = list(target.projects)
    up_with(every)
    assert state.get("ConfigMap", "example1", target.namespace)["data"]["EXTRA_KEY"] == "1"
    config.write_text(config.read_text().replace("EXTRA_KEY=1\n", ""))
    up_with(every)
    assert "EXTRA_KEY" not in state.get("ConfigMap", "example1", target.namespace)["data"]
    out = up_with([p for p in every if p != "example-notebook"])
    assert "delete ConfigMap/example-notebook -n airflow" in out
    assert state.get("ConfigMap", "example-notebook", target.namespace) is None
    state.apply({"apiVersion": "v1", "kind": "ConfigMap", "data": {"HAND": "made"},
                 "metadata": {"name": "example-notebook", "namespace": target.namespace}})
    out = up_with(every)
    assert "ConfigMap/example-notebook -n airflow exists but was not made by this tool: left as it is" in out
    assert state.get("ConfigMap", "example-notebook", target.namespace)["data"] == {"HAND": "made"}
    state.delete("ConfigMap", "example-notebook", target.namespace)
    restored = cli("up")
    assert restored.returncode == 0, restored.stderr
    again = state.get("ConfigMap", "example-notebook", target.namespace)
    assert again["data"] == {"INPUT_FILE": "input/temperatures.csv"}  # k8s/example-notebook/config.env
    assert again["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "airflow-automation"


def test_parity_check_sends_objects_and_task_pods_to_the_api_server(env: Any, k8s_cluster: Any) -> None:
    target, _ = env
    assert target.namespace in k8s_cluster.kubectl(["get", "namespace", target.namespace, "-o", "name"],
                                                   as_dict=False)
    ok = cli("dags")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    accepted = re.search(r"(\d+) task pods fit it .*; (\d+) objects and pods accepted by the API server", ok.stdout)
    assert accepted and int(accepted.group(2)) > int(accepted.group(1)) >= 6, ok.stdout
    # A task that runs as a ServiceAccount the target does not have: refused by the check and by the server.
    dag_file = REPO / "dags/zz_cluster_test_wrong_account.py"
    dag_file.write_text(WRONG_ACCOUNT_DAG)
    try:
        broken = cli("dags")
    finally:
        dag_file.unlink()
    assert broken.returncode == 2
    assert "wrong_account.task: runs as ServiceAccount 'no-such-account'" in broken.stdout
    assert re.search(r"wrong_account.task: refused by the API server: .*no-such-account", broken.stdout)


def test_images_then_e2e_example1(env: Any, base_image: str) -> None:
    images = cli("images", "--base-image", base_image, *(["--ca-bundle", str(HOST_CA)] if HOST_CA.is_file() else []))
    assert images.returncode == 0, images.stderr
    output = REPO / "data/example1/output/summary.csv"
    output.unlink(missing_ok=True)
    started = time.monotonic()
    e2e = cli("e2e", "--dag", "example1", "--timeout", "600")
    SHARED["e2e_seconds"] = time.monotonic() - started
    assert e2e.returncode == 0, e2e.stdout + e2e.stderr
    assert parse_summary(output.read_text()) == expected_summary(SALES)
    run_id = re.search(r"ok: run (\S+) succeeded", e2e.stdout)
    assert run_id, e2e.stdout
    SHARED["example1_run"] = run_id.group(1)
    # The extract pod reports what it was given: DAGs read-only, the project's ConfigMap and Secret as env.
    log = task_log(SHARED["url"], "example1", SHARED["example1_run"], "extract")
    assert "pod facts: dags read-only; config INPUT_FILE set; secret API_TOKEN set" in log


@pytest.mark.parametrize("dag", ["example_db", "example_notebook", "example_xcom"])
def test_e2e_database_and_notebook_examples(env: Any, dag: str) -> None:
    e2e = cli("e2e", "--dag", dag, "--timeout", "600")
    assert e2e.returncode == 0, e2e.stdout + e2e.stderr


def test_task_whose_image_was_never_loaded_fails_fast(env: Any) -> None:
    dag_file = REPO / "dags/zz_cluster_test_missing_image.py"
    dag_file.write_text(MISSING_IMAGE_DAG)
    try:
        started = time.monotonic()
        e2e = cli("e2e", "--dag", "cluster_test_missing_image", "--timeout", "400")
        took = time.monotonic() - started
    finally:
        dag_file.unlink()
    assert e2e.returncode == 1
    assert took < 300, f"took {took:.0f}s: should fail as soon as the pull fails"
    assert "never-loaded-image:0.0.1" in e2e.stdout + e2e.stderr
    assert re.search(r"ErrImagePull|ImagePullBackOff", e2e.stdout + e2e.stderr)
    assert f"nox -s images -- --target {env[0].name}" in e2e.stderr


def test_down_keeps_data_logs_and_secrets_then_up_restores(env: Any) -> None:
    target, state = env
    down = cli("down")
    assert down.returncode == 0, down.stderr
    wait_until(lambda: not airflow_pods(state, target), 300, "Airflow pods to go")
    for claim in ("airflow-logs", "airflow-dags", "airflow-data"):
        assert state.get("PersistentVolumeClaim", claim, target.namespace) is not None
    assert fernet_key(state, target) == SHARED["fernet"]
    up = cli("up")
    assert up.returncode == 0, up.stderr
    SHARED.update(url=printed_url(up.stdout)[0])
    assert fernet_key(state, target) == SHARED["fernet"]
    # The scheduler decrypts the stored password with the (same) Fernet key.
    got = kubectl(target, "exec", f"deploy/{target.release}-scheduler", "-c", "scheduler", "--",
                  "airflow", "connections", "get", CONN_ID, "-o", "json")
    assert got.returncode == 0, got.stderr
    assert "s3cret-survives-restarts" in got.stdout
    # A task log written before `down` is still readable through the API (logs live on the claim).
    assert "pod facts:" in task_log(SHARED["url"], "example1", SHARED["example1_run"], "extract")


def test_second_up_while_one_runs_is_refused(env: Any, tmp_path: Any) -> None:
    target, _ = env
    # A values change makes the first `up` run Helm (tens of seconds): a no-op `up` would be over too soon.
    first = subprocess.Popen([sys.executable, "-m", "automation", "up", "--target", target.name,
                              "--values", str(marker_values(tmp_path, "concurrent"))],
                             cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: "up pid" in (lock_file(target).read_text() if lock_file(target).exists() else ""),
                   60, "the first up to take the lock")
        second = cli("up")
        assert second.returncode == 2
        assert "another command is already changing target" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
    finally:
        _, err = first.communicate(timeout=900)
    assert first.returncode == 0, err


def last_revision(target: Any) -> str:
    """`helm history` of the release, last revision, as JSON text."""
    result = subprocess.run(["helm", "--kubeconfig", str(target.path(target.existing.kubeconfig)), "-n",
                             target.namespace, "history", target.release, "-o", "json", "--max", "1"],
                            capture_output=True, text=True)
    return result.stdout


def marker_values(folder: Any, marker: str) -> Any:
    """Values that make Helm upgrade (and run its hooks) without restarting Airflow: an extra ConfigMap."""
    path = folder / f"{marker}-values.yaml"
    path.write_text(f"extraConfigMaps:\n  '{{{{ .Release.Name }}}}-interrupt-test':\n    data: |\n"
                    f"      marker: \"{marker}\"\n")
    return path


def test_up_killed_during_helm_converges(env: Any, tmp_path: Any) -> None:
    target, state = env
    extra = marker_values(tmp_path, "killed")
    proc = subprocess.Popen([sys.executable, "-m", "automation", "up", "--target", target.name, "--values", str(extra)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "upgrade --install" in line:
            break
    time.sleep(4)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    print("after kill:", last_revision(target))
    again = cli("up", "--values", str(extra))
    assert again.returncode == 0, again.stderr
    final = last_revision(target)
    assert '"status":"deployed"' in final.replace(" ", "")
    assert state.get("ConfigMap", f"{target.release}-interrupt-test", target.namespace) is not None
    assert fernet_key(state, target) == SHARED["fernet"]


def test_api_server_stopped_during_up_is_one_line_then_up_converges(env: Any, tmp_path: Any) -> None:
    """The fault a laptop knows (the cluster's API server stops: a sleep, a crash): `up` says so in one line,
    nothing made is lost, and once the server is back the same `up` finishes the job."""
    target, state = env
    stop, start = os.environ.get("AUTOMATION_TEST_APISERVER_STOP"), os.environ.get("AUTOMATION_TEST_APISERVER_START")
    need(bool(stop and start), "AUTOMATION_TEST_APISERVER_STOP and _START: commands that stop and start the "
                               "cluster's API server (.ci/cluster/*.sh set them)")
    assert stop and start
    extra = marker_values(tmp_path, "apiserver")
    proc = subprocess.Popen([sys.executable, "-m", "automation", "up", "--target", target.name, "--values", str(extra)],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    for line in proc.stdout:
        if "upgrade --install" in line:
            break
    subprocess.run(["bash", "-c", stop], check=True, timeout=120)
    try:
        out, err = proc.communicate(timeout=900)
        print(out, err)
        assert proc.returncode == 2, (out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert "Traceback" not in err and "unexpected" not in err
    finally:
        subprocess.run(["bash", "-c", start], check=True, timeout=600)
    wait_until(lambda: kubectl(target, "get", "--raw", "/readyz").returncode == 0, 300, "the API server back")
    again = cli("up", "--values", str(extra))
    assert again.returncode == 0, again.stderr
    assert state.get("ConfigMap", f"{target.release}-interrupt-test", target.namespace) is not None
    assert fernet_key(state, target) == SHARED["fernet"]


def test_fernet_key_rotation_keeps_connections_readable(env: Any) -> None:
    target, state = env
    old = fernet_key(state, target)
    started = cli("rotate-fernet-key")
    assert started.returncode == 0, started.stderr
    keys = fernet_key(state, target).split(",")
    assert len(keys) == 2 and keys[1] == old and keys[0] != old
    finished = cli("rotate-fernet-key", "--finish")
    assert finished.returncode == 0, finished.stderr
    assert fernet_key(state, target) == keys[0]
    got = kubectl(target, "exec", f"deploy/{target.release}-scheduler", "-c", "scheduler", "--",
                  "airflow", "connections", "get", CONN_ID, "-o", "json")
    assert got.returncode == 0, got.stderr
    assert "s3cret-survives-restarts" in got.stdout
    again = cli("rotate-fernet-key", "--finish")
    assert again.returncode == 2 and "no rotation in progress" in again.stderr


def test_a_downgrade_is_refused_and_changes_nothing(env: Any, previous: str) -> None:
    target, state = env
    versions, revisions = resource_versions(state, target), helm_revisions(target)
    refused = f"refusing to downgrade Airflow {VERSIONS.airflow} -> {VERSIONS.airflow_previous}"
    result = cli("up", "--settings", previous, "--skip-dags-check")
    assert result.returncode == 2, result.stdout + result.stderr
    assert refused in result.stderr
    assert f"revision {database_revision(target)}" in result.stderr
    assert resource_versions(state, target) == versions and helm_revisions(target) == revisions
    # `down` removes the release and Helm's history; the database and the record `up` left stay.
    down = cli("down")
    assert down.returncode == 0, down.stderr
    again = cli("up", "--settings", previous, "--skip-dags-check")
    assert again.returncode == 2 and refused in again.stderr
    assert helm_revisions(target) == []


def helm_revisions(target: Any) -> list[str]:
    listed = kubectl(target, "get", "secrets", "-l", f"owner=helm,name={target.release}", "-o", "name")
    assert listed.returncode == 0, listed.stderr
    return sorted(listed.stdout.split())


def _secret_values(target: Any) -> dict[str, str]:
    """Every secret value of this run, by where it comes from: the target's Secrets (the chart's and the
    projects'), the projects' secret files, the metadata database's password, the UI password."""
    import base64
    import json
    from urllib.parse import urlsplit

    found: dict[str, str] = {}
    listed = kubectl(target, "get", "secrets", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    for item in json.loads(listed.stdout)["items"]:
        if item.get("type") in ("helm.sh/release.v1", "kubernetes.io/service-account-token"):
            continue  # Helm's own record (the release, gzipped) and the API's tokens: not ours to print
        for key, value in (item.get("data") or {}).items():
            text = base64.b64decode(value).decode(errors="replace")
            found[f"Secret {item['metadata']['name']} {key}"] = text
            if "://" in text and urlsplit(text).password:
                found[f"Secret {item['metadata']['name']} {key} (password)"] = urlsplit(text).password or ""
    for path in REPO.glob("k8s/*/secret.env"):
        for line in path.read_text().splitlines():
            if "=" in line and not line.lstrip().startswith("#"):
                key, value = line.split("=", 1)
                found[f"{path.relative_to(REPO)} {key}"] = value.strip()
                if "://" in value and urlsplit(value.strip()).password:
                    found[f"{path.relative_to(REPO)} {key} (password)"] = urlsplit(value.strip()).password or ""
    url_file = REPO / ".state" / "ci-metadata-db.url"
    if url_file.is_file():
        found["metadata database password"] = urlsplit(url_file.read_text().strip()).password or ""
    found["UI password"] = SHARED.get("password", "")
    found["Fernet key of the first up"] = SHARED.get("fernet", "")
    found["connection password"] = "s3cret-survives-restarts"
    # Short or empty values would match by accident ("admin" in a URL); every real secret here is longer.
    return {where: value for where, value in found.items() if len(value) >= 12}


def test_no_secret_in_any_output_rendered_file_or_state(env: Any, tmp_path: Any) -> None:
    """Everything the product printed in these cluster tests (up, images, e2e of passing and failing tasks,
    status, down, rotation, and the day-2 commands before them), what `render` writes, and the .state folder:
    no secret value outside the Secrets and the files meant to hold them, and .state private."""
    target, _ = env
    status = cli("status")
    assert status.returncode == 0, status.stderr
    rendered = cli("render", "--out", str(tmp_path / "render"))
    assert rendered.returncode == 0, rendered.stderr
    secrets = _secret_values(target)
    assert len(secrets) >= 5, sorted(secrets)  # the chart's keys, the database, the projects, the UI
    printed = "\n".join(PRINTED)
    assert "$ automation up" in printed and "$ automation e2e" in printed
    files = {f"render/{p.name}": p.read_text(errors="replace") for p in (tmp_path / "render").rglob("*")
             if p.is_file()}
    # .state holds the metadata URL on purpose (the file the target's settings name); nothing else may.
    state = REPO / ".state"
    for path in state.rglob("*"):
        if path.is_file() and path.name != "ci-metadata-db.url" and path.stat().st_size < 5_000_000:
            files[str(path.relative_to(REPO))] = path.read_text(errors="replace")
    leaks = [f"{where} in {name}" for where, value in secrets.items()
             for name, text in [("the output", printed), *files.items()] if value in text]
    assert leaks == []
    assert state.stat().st_mode & 0o777 == 0o700
    assert (state / "ci-metadata-db.url").stat().st_mode & 0o077 == 0
    for path in state.iterdir():
        if path.is_dir() and path.name == target.name:
            assert path.stat().st_mode & 0o077 == 0, f"{path} is readable by others"


def test_purge_deletes_namespace_volumes_and_secrets(env: Any) -> None:
    target, state = env
    purge(cli, target)
    assert state.get("Namespace", target.namespace) is None
    for volume in ("logs", "dags", "data"):
        assert state.get("PersistentVolume", f"{target.namespace}-airflow-{volume}") is None
    assert httpx is not None
