"""Connections, variables and pools as code on a real Airflow: `up` applies k8s/example-db/airflow.yaml through the
REST API (the password really stored, never shown), a second `up` changes nothing, an entry removed from the file
is pruned, and an object of the same name made by hand is left alone.

Runs against the kube-context target named by AUTOMATION_CLUSTER_TARGET (CI: `ci`); reuses the target when it
is already up (then `up` is a no-op apart from these objects)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml

from automation.settings.projects import read_env_file
from tests.cluster.support import api, cli, cluster_target, kubectl, printed_url, token

pytestmark = pytest.mark.cluster
MARK = "managed by airflow-automation, project example-db"
EXTRA_VARIABLE = "cluster_test_extra_variable"


@pytest.fixture(scope="module")
def env(k8s_cluster: Any) -> Any:
    target, state = cluster_target()
    first = cli("up", "--skip-dags-check")
    assert first.returncode == 0, first.stdout + first.stderr
    url, user, password = printed_url(first.stdout)
    return target, state, url, token(url, user, password), first.stdout


def stored_password(target: Any, conn_id: str) -> str:
    """The password as Airflow holds it, read inside the scheduler (the CLI shows it; the REST API never does).
    Not printed: the output of this call stays in this function."""
    result = kubectl(target, "exec", f"deploy/{target.release}-scheduler", "-c", "scheduler", "--",
                     "airflow", "connections", "get", conn_id, "-o", "json")
    assert result.returncode == 0, result.stderr[-300:]
    listing = next(line for line in reversed(result.stdout.splitlines()) if line.startswith("[{"))
    return str(json.loads(listing)[0]["password"])


def test_up_applies_the_declared_objects(env: Any) -> None:
    target, _, url, bearer, first = env
    assert "Airflow connections, variables, pools" in first
    with api(url, bearer) as client:
        conn = client.get("/api/v2/connections/example_db").json()
        variable = client.get("/api/v2/variables/example_db_table").json()
        pool = client.get("/api/v2/pools/example_db").json()
    secret = read_env_file(target.path(target.projects_dir) / "example-db" / "secret.env")["DATABASE_URL"]
    parts = urlsplit(secret)
    assert (conn["conn_type"], conn["host"], conn["port"], conn["login"], conn["schema"]) == (
        "postgres", parts.hostname, parts.port, parts.username, parts.path.lstrip("/"))
    assert conn["password"] == "***" and MARK in conn["description"]
    assert stored_password(target, "example_db") == unquote(parts.password or "")
    assert variable["value"] == "example_db_readings" and MARK in variable["description"]
    assert pool["slots"] == 1 and MARK in pool["description"]
    assert unquote(parts.password or "") not in first


def test_connections_applied_twice_change_nothing(env: Any) -> None:
    _, _, url, bearer, _ = env
    with api(url, bearer) as client:
        before = client.get("/api/v2/connections/example_db").json()
    again = cli("up", "--skip-dags-check")
    assert again.returncode == 0, again.stdout + again.stderr
    for kind in ("connections", "variables", "pools"):
        assert f"    {kind}: unchanged" in again.stdout, again.stdout
    assert "create Airflow" not in again.stdout and "update Airflow" not in again.stdout
    assert "delete Airflow" not in again.stdout
    with api(url, bearer) as client:
        assert client.get("/api/v2/connections/example_db").json() == before


def test_removed_entries_are_pruned_and_hand_made_ones_left_alone(env: Any, tmp_path: Path) -> None:
    target, _, url, bearer, _ = env
    projects = tmp_path / "k8s"
    shutil.copytree(target.path(target.projects_dir), projects)
    declared = projects / "example-db" / "airflow.yaml"
    original = yaml.safe_load(declared.read_text())
    overlay = tmp_path / "projects.yaml"
    overlay.write_text(yaml.safe_dump({"targets": {target.name: {"projects_dir": str(projects)}}}))

    def up_with(variables: dict[str, Any]) -> str:
        declared.write_text(yaml.safe_dump({**original, "variables": variables}))
        result = cli("up", "--settings", str(overlay), "--skip-dags-check")
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    with api(url, bearer) as client:
        client.delete(f"/api/v2/variables/{EXTRA_VARIABLE}")
        out = up_with({**original["variables"], EXTRA_VARIABLE: {"value": "1"}})
        assert f"create Airflow variable {EXTRA_VARIABLE}" in out
        assert client.get(f"/api/v2/variables/{EXTRA_VARIABLE}").json()["value"] == "1"
        out = up_with(original["variables"])
        assert f"delete Airflow variable {EXTRA_VARIABLE}" in out
        assert client.get(f"/api/v2/variables/{EXTRA_VARIABLE}").status_code == 404
        # The same name made by hand: declared again, it is left as it is, with a warning.
        made = client.post("/api/v2/variables", json={"key": EXTRA_VARIABLE, "value": "by hand"})
        assert made.status_code == 201, made.text
        out = up_with({**original["variables"], EXTRA_VARIABLE: {"value": "1"}})
        assert f"variable {EXTRA_VARIABLE} exists but was not made by this tool: left as it is" in out
        assert client.get(f"/api/v2/variables/{EXTRA_VARIABLE}").json()["value"] == "by hand"
        out = up_with(original["variables"])  # not ours: not pruned either
        assert client.get(f"/api/v2/variables/{EXTRA_VARIABLE}").json()["value"] == "by hand"
        client.delete(f"/api/v2/variables/{EXTRA_VARIABLE}")
    restored = cli("up", "--skip-dags-check")
    assert restored.returncode == 0, restored.stdout + restored.stderr
