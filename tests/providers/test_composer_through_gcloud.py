"""`up --target composer` as a user runs it, through the real gcloud against the Google APIs double, with a real
Airflow API server at the environment's airflowUri: the dry-run plan, then a first `up` that does exactly what the
plan said (each gcloud command and the requests it sent: method, resource, body), then a second `up` that writes
nothing. Nothing in the product knows about the double: gcloud is pointed at it through its own environment."""

from __future__ import annotations

import base64
import json
import re
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from automation.core.versions import VERSIONS
from automation.settings.projects import read_env_file
from tests.airflow_server import AirflowServer, airflow_server
from tests.conftest import REPO, need, run_cli
from tests.google_double import GoogleDouble, Recorded
from tests.google_double.fixture import google_double

__all__ = ["airflow_server", "google_double"]

TARGET = "double-composer"
REGION, ENVIRONMENT = "us-central1", "airflow-env"
ENV_BUCKET, DATA_BUCKET = "us-central1-airflow-env-bucket", "double-project-airflow-data"
IMAGE = f"composer-3-airflow-{VERSIONS.airflow}-build.1"  # the Airflow airflow_server runs
AIRFLOW_2_IMAGE = "composer-3-airflow-2.10.5-build.12"
COMPOSER = "composer.projects.locations.environments"
# What each gcloud command of the plan asks Google for (the discovery id of its writes).
WRITES = {
    ("composer", "environments", "user-workloads-config-maps", "create"): f"{COMPOSER}.userWorkloadsConfigMaps.create",
    ("composer", "environments", "user-workloads-config-maps", "update"): f"{COMPOSER}.userWorkloadsConfigMaps.update",
    ("composer", "environments", "user-workloads-secrets", "create"): f"{COMPOSER}.userWorkloadsSecrets.create",
    ("composer", "environments", "user-workloads-secrets", "update"): f"{COMPOSER}.userWorkloadsSecrets.update",
    ("composer", "environments", "update"): f"{COMPOSER}.patch",
    ("storage", "rsync"): "storage.objects.insert",
}
PROJECTS = ("example1", "example-db", "example-notebook", "example-xcom")


@pytest.fixture
def settings(tmp_path: Path, google_double: GoogleDouble, airflow_server: AirflowServer) -> Iterator[Path]:
    """The example projects (their secret files made from the templates) on a composer target whose environment
    is in the double and whose airflowUri is the real Airflow API server."""
    need(shutil.which("gcloud") is not None, "the gcloud CLI (Google Cloud SDK)")
    google_double.seed_composer_environment(ENVIRONMENT, REGION, image_version=IMAGE, bucket=ENV_BUCKET,
                                            airflow_uri=airflow_server.url)
    google_double.seed_bucket(DATA_BUCKET, REGION)
    projects = tmp_path / "k8s"
    for project in PROJECTS:
        shutil.copytree(REPO / "k8s" / project, projects / project, ignore=shutil.ignore_patterns("secret.env"))
        template = projects / project / "secret.env.example"
        if template.exists():
            shutil.copy(template, projects / project / "secret.env")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"targets": {TARGET: {
        "extends": "composer", "projects_dir": str(projects), "data_root": f"gs://{DATA_BUCKET}",
        "composer": {"project": google_double.project, "region": REGION, "environment": ENVIRONMENT,
                     "environment_bucket": ENV_BUCKET, "data_bucket": DATA_BUCKET, "image_version": IMAGE}}}}))
    yield overlay
    shutil.rmtree(REPO / ".state" / TARGET, ignore_errors=True)


def up(google_double: GoogleDouble, airflow_server: AirflowServer, settings: Path, tmp_path: Path,
       *flags: str) -> str:
    env = {**google_double.environment(tmp_path / "gcloud"), "CLOUDSDK_AUTH_ACCESS_TOKEN": airflow_server.token}
    result = run_cli("up", "--target", TARGET, "--settings", str(settings), "--skip-dags-check", *flags, env=env,
                     timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert airflow_server.token not in result.stdout + result.stderr  # the Google token is a secret: masked
    return result.stdout


def commands(stdout: str) -> list[list[str]]:
    """The gcloud commands a run printed (run, or planned in a dry run), as words."""
    found = []
    for line in stdout.splitlines():
        text = line.strip().removeprefix("[dry-run] ")
        if text.startswith("$ gcloud "):
            found.append(shlex.split(text[2:])[1:])
    return found


def write_method(words: list[str]) -> str:
    for prefix, method in WRITES.items():
        if tuple(words[: len(prefix)]) == prefix:
            return method
    raise AssertionError(f"no known API write for gcloud {' '.join(words)}")


def airflow_lines(stdout: str) -> list[str]:
    return [line.strip().removeprefix("[dry-run] ") for line in stdout.splitlines()
            if re.search(r"(create|update|delete) Airflow (connection|variable|pool) ", line)]


def writes(records: list[Recorded]) -> list[Recorded]:
    return [r for r in records if r.http_method not in ("GET", "HEAD")]


def squeezed(methods: list[str]) -> list[str]:
    return [m for i, m in enumerate(methods) if i == 0 or methods[i - 1] != m]


def test_up_on_composer_does_what_its_plan_says_and_a_second_up_writes_nothing(
        google_double: GoogleDouble, airflow_server: AirflowServer, settings: Path, tmp_path: Path) -> None:
    planned = up(google_double, airflow_server, settings, tmp_path, "--dry-run")
    assert writes(google_double.requests()) == [], "a dry run reads only"
    plan, plan_airflow = commands(planned), airflow_lines(planned)
    assert plan_airflow == [f"create Airflow {kind} {ident} (REST API at {airflow_server.url})" for kind, ident in
                            (("connection", "example_db"), ("variable", "example_db_table"), ("pool", "example_db"))]

    google_double.forget()
    ran = up(google_double, airflow_server, settings, tmp_path)
    # The same gcloud commands in the same order; the same Airflow writes.
    assert commands(ran) == plan
    assert airflow_lines(ran) == plan_airflow
    # Each command's requests, in order: what the plan said each one does.
    assert squeezed([r.method for r in writes(google_double.requests())]) == squeezed([write_method(w) for w in plan])

    where = f"projects/{google_double.project}/locations/{REGION}/environments/{ENVIRONMENT}"
    for project in PROJECTS:
        config = read_env_file(REPO / "k8s" / project / "config.env")
        made = google_double.resource("composer", f"{where}/userWorkloadsConfigMaps/{project}")
        assert made is not None and made["data"] == config
        template = REPO / "k8s" / project / "secret.env.example"
        secret = google_double.resource("composer", f"{where}/userWorkloadsSecrets/{project}")
        if template.exists():
            assert secret is not None
            assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == read_env_file(template)
        else:
            assert secret is None
    patch = next(r for r in google_double.requests(f"{COMPOSER}.patch"))
    assert patch.query["updateMask"] == ["config.software_config.env_variables"]  # gcloud spells it so
    update = next(w for w in plan if w[:3] == ["composer", "environments", "update"])
    flag = next(w for w in update if w.startswith("--update-env-variables="))
    wanted = dict(pair.split("=", 1) for pair in flag.split("=", 1)[1].split(","))
    assert patch.body["config"]["softwareConfig"]["envVariables"] == wanted

    # DAGs (with .airflowignore, without caches) in the environment bucket; inputs in the data bucket.
    local = {str(p.relative_to(REPO)) for p in (REPO / "dags").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts}
    assert set(google_double.objects(ENV_BUCKET)) == local and "dags/.airflowignore" in local
    inputs = {f"{p.parent.parent.name}/input/{p.name}" for p in (REPO / "data").glob("*/input/*") if p.is_file()}
    assert set(google_double.objects(DATA_BUCKET)) == inputs

    # Connections, variables and pools are in the real Airflow, marked as this tool's.
    for kind, path in (("connections", "connections/example_db"), ("variables", "variables/example_db_table"),
                       ("pools", "pools/example_db")):
        shown = airflow_server.get(f"/api/v2/{path}")
        assert shown.status_code == 200, (kind, shown.text)
        assert "managed by airflow-automation, project example-db" in shown.json()["description"]

    # A second `up`: every step finds its work done, and nothing is written anywhere.
    google_double.forget()
    again = up(google_double, airflow_server, settings, tmp_path)
    assert writes(google_double.requests()) == [], [r.method for r in writes(google_double.requests())]
    assert "environment variables already set" in again
    assert all(f"ConfigMap/{p} unchanged" in again for p in PROJECTS)
    assert "Secret/example1 unchanged" in again and "Secret/example-db unchanged" in again
    for kind in ("connections", "variables", "pools"):
        assert f"{kind}: unchanged (1)" in again
    assert json.loads((REPO / ".state" / TARGET / "workloads.json").read_text())["Secret"] == ["example-db",
                                                                                               "example1"]

    # status and doctor read the environment (doctor signs in to its API the same way), writing nothing.
    google_double.forget()
    env = {**google_double.environment(tmp_path / "gcloud"), "CLOUDSDK_AUTH_ACCESS_TOKEN": airflow_server.token}
    shown = run_cli("status", "--target", TARGET, "--settings", str(settings), "--json", env=env, timeout=300)
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    assert rows["environment"] == f"RUNNING, {IMAGE}" and rows["ui"] == airflow_server.url
    assert rows["task facts"] == "AUTOMATION_* as `up` sets them"
    assert rows["ConfigMaps"] == f"present: {', '.join(PROJECTS)}"
    assert rows["Secrets"] == "present: example1, example-db"
    doctor = run_cli("doctor", "--target", TARGET, "--settings", str(settings), env=env, timeout=600)
    line = next((x for x in doctor.stdout.splitlines() if "airflow api" in x), doctor.stdout[-2000:])
    assert f"{airflow_server.url}: Airflow {VERSIONS.airflow}" in line and "your Google account" in line, line
    assert writes(google_double.requests()) == []

    # A task's log comes from the same API, signed in the same way (this Airflow has no DAG: the answer says so).
    logs = run_cli("logs", "--target", TARGET, "--settings", str(settings), "--dag", "example1", "--task", "extract",
                   env=env, timeout=300)
    assert logs.returncode == 2 and logs.stderr.startswith("error: DAG 'example1' not found (DAGs: none)"), \
        logs.stdout + logs.stderr

    # down --purge takes back what `up` made there, and only that; a second one finds nothing to take.
    google_double.forget()
    purged = run_cli("down", "--target", TARGET, "--settings", str(settings), "--purge", "--yes", env=env,
                     timeout=600)
    assert purged.returncode == 0, purged.stdout[-3000:] + purged.stderr[-2000:]
    deleted = [r.method.rsplit(".", 2)[-2:] for r in writes(google_double.requests())]
    assert sorted(m for m in deleted if m[1] == "delete" and m[0].startswith("userWorkloads")) == sorted(
        [["userWorkloadsConfigMaps", "delete"]] * len(PROJECTS) + [["userWorkloadsSecrets", "delete"]] * 2)
    environment = google_double.resource("composer", where)
    assert not any(k.startswith("AUTOMATION_") for k in environment["config"]["softwareConfig"].get("envVariables", {}))
    assert google_double.objects(ENV_BUCKET) == {}
    assert set(google_double.objects(DATA_BUCKET)) == inputs  # data stays
    for path in ("connections/example_db", "variables/example_db_table", "pools/example_db"):
        assert airflow_server.get(f"/api/v2/{path}").status_code == 404
    google_double.forget()
    again = run_cli("down", "--target", TARGET, "--settings", str(settings), "--purge", "--yes", env=env, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-2000:]
    assert writes(google_double.requests()) == []


def test_airflow_cli_and_restart_on_composer_go_through_its_api_as_their_plan_says(
        google_double: GoogleDouble, airflow_server: AirflowServer, settings: Path, tmp_path: Path) -> None:
    env = {**google_double.environment(tmp_path / "gcloud"), "CLOUDSDK_AUTH_ACCESS_TOKEN": airflow_server.token}
    base = ("--target", TARGET, "--settings", str(settings))
    # On Airflow 3 gcloud runs no Airflow CLI command: the product says so before gcloud is asked anything.
    refused = run_cli("airflow", *base, "--", "dags", "list", env=env, timeout=300)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert refused.stderr.startswith("error: gcloud runs no Airflow CLI command on Cloud Composer environments with "
                                     f"Airflow 3 (this one: {VERSIONS.airflow})") and "airflowctl" in refused.stderr
    assert google_double.requests() == []

    # An Airflow 2 environment: `environments run` through executeAirflowCommand, which Composer runs on its own
    # Airflow (here: the real Airflow CLI on the API server's database).
    google_double.seed_composer_environment("airflow2-env", REGION, image_version=AIRFLOW_2_IMAGE, bucket=ENV_BUCKET,
                                            airflow_uri=airflow_server.url)
    overlay = yaml.safe_load(settings.read_text())
    overlay["targets"][TARGET]["composer"].update(environment="airflow2-env", image_version=AIRFLOW_2_IMAGE)
    settings2 = tmp_path / "airflow2.yaml"
    settings2.write_text(yaml.safe_dump(overlay))
    google_double.composer.airflow_cli = lambda asked: airflow_server.cli(
        [asked.command, *([asked.subcommand] if asked.subcommand else []), *asked.parameters])
    base = ("--target", TARGET, "--settings", str(settings2))
    planned = run_cli("airflow", *base, "--dry-run", "--", "dags", "list", "-o", "json", env=env, timeout=300)
    assert planned.returncode == 0, planned.stderr
    assert google_double.requests() == []  # the plan asks Google nothing
    [plan] = commands(planned.stdout)
    ran = run_cli("airflow", *base, "--", "dags", "list", "-o", "json", env=env, timeout=300)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert commands(ran.stderr) == [plan]  # the command line goes to stderr, keeping stdout the command's
    assert ran.stdout.strip().splitlines()[-1] == "[]"  # Airflow's own answer (after its log lines): no DAG here
    [asked] = google_double.composer.commands
    assert (asked.command, asked.subcommand, asked.parameters) == ("dags", "list", ["-o", "json"])
    dashes = plan.index("--")
    assert plan[dashes - 2:dashes] == ["dags", "list"] and plan[dashes + 1:] == asked.parameters
    # A failing command's exit code comes back through gcloud.
    failed = run_cli("airflow", *base, "--", "tasks", "list", "no_such_dag", env=env, timeout=300)
    assert failed.returncode == 1 and "no_such_dag" in failed.stdout + failed.stderr, failed.stdout + failed.stderr

    # restart: Composer's restartWebServer, once, as planned; other components are Composer's own to restart.
    base = ("--target", TARGET, "--settings", str(settings))
    google_double.forget()
    planned = run_cli("restart", *base, "--dry-run", env=env, timeout=300)
    assert planned.returncode == 0 and writes(google_double.requests()) == [], planned.stdout + planned.stderr
    restarted = run_cli("restart", *base, env=env, timeout=300)
    assert restarted.returncode == 0, restarted.stdout[-2000:] + restarted.stderr[-2000:]
    assert commands(restarted.stdout) == commands(planned.stdout) != []
    assert [r.method for r in writes(google_double.requests())] == [f"{COMPOSER}.restartWebServer"]
    other = run_cli("restart", *base, "scheduler", env=env, timeout=300)
    assert other.returncode == 2 and "not scheduler" in other.stderr, other.stderr
