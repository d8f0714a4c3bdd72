"""Day-2 commands without a cluster: the dry-run plans (the exact kubectl commands, components named by the
chart's labels), Composer's equivalents, and bad input as one line."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need, run_cli

KUBECTL = "kubectl -n airflow"
EVERY = "api-server,dag-processor,scheduler,triggerer"


def plan(tmp_path: Path, *args: str, target: str = "existing") -> list[str]:
    # A kubeconfig that does not exist: no cluster answers, the plan uses the chart's default components. Our
    # options go first: what follows `--` is the command's.
    result = run_cli(args[0], "--target", target, "--dry-run", *args[1:], env={"KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == 0, result.stderr
    return [line.split("[dry-run] ", 1)[1].removeprefix("$ ") for line in result.stdout.splitlines()
            if "[dry-run] " in line]


def test_logs_of_every_component_then_one_followed(tmp_path: Path) -> None:
    assert plan(tmp_path, "logs") == [
        f"{KUBECTL} logs -l 'release=airflow,component in ({EVERY})' --prefix --tail=100 --max-log-requests=10 "
        "--all-containers"]
    assert plan(tmp_path, "logs", "scheduler", "-f", "--since", "10m", "--tail", "5") == [
        f"{KUBECTL} logs -l release=airflow,component=scheduler --prefix --tail=5 --max-log-requests=10 "
        "-c scheduler --since=10m --follow"]


def test_task_log_plan_reads_the_api_then_the_logs_claim(tmp_path: Path) -> None:
    steps = plan(tmp_path, "logs", "--dag", "example1", "--task", "extract")
    assert steps[1] == ("GET /api/v2/dags/example1/dagRuns/(its latest run)/taskInstances/extract/logs/"
                        "(the last try)?full_content=true&map_index=-1")
    assert steps[2].startswith("if the API cannot be reached: kubectl exec deployment/airflow-scheduler -c scheduler: "
                               "read /opt/airflow/logs/dag_id=example1/run_id=(its latest run)/task_id=extract/")
    only_claim = plan(tmp_path, "logs", "--dag", "example1", "--task", "extract", "--run", "r1", "--try", "2",
                      "--from", "volume")
    assert only_claim[0] == ("kubectl exec deployment/airflow-scheduler -c scheduler: read "
                             "/opt/airflow/logs/dag_id=example1/run_id=r1/task_id=extract/attempt=2.log")


def test_airflow_shell_and_restart_plans(tmp_path: Path) -> None:
    assert plan(tmp_path, "airflow", "--", "dags", "list", "-o", "json") == [
        f"{KUBECTL} exec -i deployment/airflow-scheduler -c scheduler -- airflow dags list -o json"]
    # No terminal here (the test's stdin): no -t, so kubectl does not warn.
    assert plan(tmp_path, "shell") == [f"{KUBECTL} exec -i deployment/airflow-scheduler -c scheduler -- bash"]
    assert plan(tmp_path, "shell", "triggerer", "--", "ls", "/opt/airflow") == [
        f"{KUBECTL} exec -i deployment/airflow-triggerer -c triggerer -- ls /opt/airflow"]
    assert plan(tmp_path, "restart", "scheduler", "api-server", "--timeout", "300") == [
        f"{KUBECTL} rollout restart deployment/airflow-scheduler deployment/airflow-api-server",
        f"{KUBECTL} rollout status deployment/airflow-scheduler --timeout=300s",
        f"{KUBECTL} rollout status deployment/airflow-api-server --timeout=300s"]


COMPOSER_WHERE = "airflow --location europe-west1 --project my-gcp-project"
AIRFLOW_3_CLI = ("k8s/PROJECT/airflow.yaml and `up` for connections, variables and pools; for the rest, Airflow's "
                 "REST API (or airflowctl) at AIRFLOW_URI with -H \"Authorization: Bearer $(gcloud auth "
                 f"print-access-token)\", AIRFLOW_URI from `gcloud composer environments describe {COMPOSER_WHERE} "
                 "--format='value(config.airflowUri)'`")
COMPOSER = {
    # gcloud's `composer environments run` allowlist ends before Airflow 3 (the composer target runs 3.x).
    "airflow": (["airflow", "--", "dags", "trigger", "example1", "--run-id", "x"], AIRFLOW_3_CLI),
    "airflow single word": (["airflow", "--", "version"], AIRFLOW_3_CLI),
    "connections": (["airflow", "--", "connections", "list"], AIRFLOW_3_CLI),
    "task log from the claim": (["logs", "--dag", "example1", "--task", "extract", "--run", "r1", "--from", "volume"],
                 "gcloud storage cat gs://europe-west1-airflow-00000000-bucket/logs/dag_id=example1/run_id=r1/"
                 "task_id=extract/attempt=1.log"),
    "component logs": (["logs", "scheduler"], "gcloud logging read"),
    "shell": (["shell"], AIRFLOW_3_CLI),
}


def test_restart_on_composer_is_its_web_server_restart_and_nothing_else(tmp_path: Path) -> None:
    restart = f"gcloud beta composer environments restart-web-server {COMPOSER_WHERE}"
    assert plan(tmp_path, "restart", target="composer") == [restart]
    assert plan(tmp_path, "restart", "api-server", target="composer") == [restart]
    other = run_cli("restart", "--target", "composer", "--dry-run", "scheduler", "triggerer")
    assert other.returncode == 2 and other.stderr.startswith(
        "error: Cloud Composer restarts only its web server on request, not scheduler, triggerer -- name api-server"
    ), other.stderr


@pytest.mark.parametrize("case", sorted(COMPOSER))
def test_composer_names_what_to_use_instead(case: str) -> None:
    args, instead = COMPOSER[case]
    for dry_run in ([], ["--dry-run"]):
        result = run_cli(*args[:1], "--target", "composer", *dry_run, *args[1:], timeout=120)
        assert result.returncode == 2, result.stdout
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Cloud Composer" in lines[0], result.stderr
        assert f"-- use: {instead}" in lines[0]
        if dry_run:  # the plan shows the equivalent too
            assert f"[dry-run] not run here; on Composer: {instead}" in result.stdout


@pytest.mark.parametrize("case", sorted(COMPOSER))
def test_each_gcloud_equivalent_is_a_command_of_the_installed_gcloud_and_ga_unless_said(case: str,
                                                                                       tmp_path: Path) -> None:
    need(shutil.which("gcloud") is not None, "the gcloud CLI (Google Cloud SDK)")
    instead = COMPOSER[case][1]
    words = [w.rstrip(')"') for w in instead[instead.index("gcloud ") + len("gcloud "):].split()]
    # The command's own words: up to its first flag or non-word (`--help` there shows that command's page).
    path = list(itertools.takewhile(re.compile(r"[a-z][a-z0-9-]*").fullmatch, words))
    shown = subprocess.run(["gcloud", *path, "--help"], capture_output=True, text=True, timeout=120,
                           env={**os.environ, "CLOUDSDK_CONFIG": str(tmp_path), "PAGER": "cat"})
    assert shown.returncode == 0, f"gcloud {' '.join(path)}: {shown.stderr[-300:]}"
    released = "(BETA)" not in shown.stdout and "(ALPHA)" not in shown.stdout
    assert released or ("beta" in path and "(beta)" in instead), f"{' '.join(path)} is not GA: the hint must say so"


BAD = {
    "unknown component": (["logs", "schedulr", "--dry-run"],
                          f"unknown component 'schedulr' in release airflow (components: {EVERY.replace(',', ', ')})"),
    "unknown component to restart": (["restart", "workers", "--dry-run"], "unknown component 'workers'"),
    "unknown component for a shell": (["shell", "nope", "--dry-run"], "unknown component 'nope'"),
    "task without dag": (["logs", "--task", "extract"], "a task's log needs both --dag and --task"),
    "dag without task": (["logs", "--dag", "example1"], "a task's log needs both --dag and --task"),
    "component and task": (["logs", "scheduler", "--dag", "example1", "--task", "extract"],
                           "name components or a task, not both"),
    "follow a task": (["logs", "--dag", "example1", "--task", "extract", "-f"], "-f follows components' logs"),
    "run without a task": (["logs", "--run", "r1"], "--run, --try, --url, --username and --password choose a task"),
    "try not a number": (["logs", "--dag", "d", "--task", "t", "--try", "0"], "expected a positive number, got 0"),
    "unknown source": (["logs", "--dag", "d", "--task", "t", "--from", "disk"], "invalid choice: 'disk'"),
    "airflow without a command": (["airflow"], "no Airflow command given"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_gives_one_line(case: str, tmp_path: Path) -> None:
    args, expected = BAD[case]
    result = run_cli(args[0], "--target", "existing", *args[1:], env={"KUBECONFIG": str(tmp_path / "none")},
                     timeout=120)
    assert result.returncode == 2, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and " -- " in lines[0], lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_a_cluster_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    result = run_cli("logs", "scheduler", "--target", "existing", env={"KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == 2
    assert result.stderr.startswith("error: the cluster of target 'existing' is not reachable")
    assert "nox -s up -- --target existing" in result.stderr


def test_the_next_step_repeats_every_settings_file_the_command_was_given(tmp_path: Path) -> None:
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("targets: {}\n")
    second.write_text("targets: {}\n")
    for command in (("logs", "scheduler"), ("restart",), ("prune",)):
        result = run_cli(*command[:1], "--target", "existing", "--settings", str(first), "--settings", str(second),
                         *command[1:], env={"KUBECONFIG": str(tmp_path / "none")})
        assert result.returncode == 2, result.stdout
        assert f"nox -s up -- --target existing --settings {first} --settings {second}" in result.stderr, \
            result.stderr


def test_ui_plans_the_forward_prints_the_login_and_opens_the_systems_browser(tmp_path: Path) -> None:
    from automation.settings import load_target

    local = load_target("local")
    url, login = f"http://localhost:{local.ui.port}", f"login {local.login.username} / {local.login.password}"
    env = {"KUBECONFIG": str(tmp_path / "none"), "DISPLAY": ":0"}
    shown = run_cli("ui", "--target", "local", "--dry-run", env=env)
    assert shown.returncode == 0, shown.stderr
    assert f"[dry-run] port-forward svc/airflow-api-server to localhost:{local.ui.port} (supervised, background), " \
           "unless one answers already" in shown.stdout
    assert f"{url}  {login}" in shown.stdout
    assert f"[dry-run] $ xdg-open {url}" in shown.stdout
    printed = run_cli("ui", "--target", "local", "--dry-run", "--no-browser", "--port", "9999", env=env)
    assert f"http://localhost:9999  {login}" in printed.stdout and "xdg-open" not in printed.stdout
    headless = run_cli("ui", "--target", "local", "--dry-run", env={"KUBECONFIG": str(tmp_path / "none"),
                                                                    "DISPLAY": "", "WAYLAND_DISPLAY": ""})
    assert "no desktop session here: open the URL in your browser" in headless.stdout


def test_ui_on_a_target_without_a_fixed_password_says_where_it_lives(tmp_path: Path) -> None:
    shown = run_cli("ui", "--target", "gke", "--dry-run", "--no-browser", env={"KUBECONFIG": str(tmp_path / "none")})
    assert shown.returncode == 0, shown.stderr
    assert "login admin / (kubectl get secret airflow-ui-login -n airflow" in shown.stdout, shown.stdout
