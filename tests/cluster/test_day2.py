"""Day-2 commands on a real Kubernetes, through the product's public commands: logs (components, and tasks
whose pods are gone), the Airflow CLI, a shell, restart. Reuses the target when it is already up (a no-op `up`)
and a run of example1 when one exists, so the module takes a few minutes rather than a full lifecycle."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.cluster.support import TARGET, cli, cluster_target, fernet_key, kubectl, resource_versions
from tests.conftest import HOST_CA, REPO, run_cli

pytestmark = pytest.mark.cluster
COMPONENTS = ("api-server", "dag-processor", "scheduler", "triggerer")
FAILING_DAG = '''"""Airflow DAG written by the day-2 cluster tests: its task's script is given arguments it refuses."""
from common.utils import project_dag, project_task

with project_dag("example1", "DAG_ID", output="output/never.csv"):
    project_task("example1", "refused", "example1/scripts/extract.py", args=["--no-such-flag"])
'''
CONN_ID = "day2_test_conn"
CONN_PASSWORD = "day2-s3cret-survives-restart"


def day2(command: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m automation COMMAND --target T ARGS`: the target before the arguments, since everything after
    `airflow`'s first word (or a `--`) belongs to the command run in the component."""
    result = run_cli(command, "--target", TARGET, *args, timeout=900)
    print(f"$ automation {command} --target {TARGET} {' '.join(args)} -> {result.returncode}\n{result.stdout}\n"
          f"{result.stderr}")
    return result


def one_error_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and " -- " in lines[0], result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for text in expected:
        assert text in lines[0]
    return lines[0]


def helm_revision(target: Any) -> str:
    result = subprocess.run(["helm", "--kubeconfig", str(target.path(target.existing.kubeconfig)), "-n",
                             target.namespace, "history", target.release, "-o", "json", "--max", "1"],
                            capture_output=True, text=True, check=True)
    return str(json.loads(result.stdout)[-1]["revision"])


def pod_uids(state: Any, target: Any) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for pod in state.list("Pod", target.namespace, f"release={target.release}"):
        component = (pod["metadata"].get("labels") or {}).get("component")
        # Pods of the previous rollout may still be terminating (their grace period): not counted.
        if component in COMPONENTS and pod["status"].get("phase") == "Running" \
                and not pod["metadata"].get("deletionTimestamp"):
            found.setdefault(component, set()).add(pod["metadata"]["uid"])
    return found


@pytest.fixture(scope="module")
def env(k8s_cluster: Any, base_image: str) -> Any:
    """The target up (a no-op when it already is), worker images loaded, and a finished run of example1."""
    tags = REPO / "dags/common/images.json"
    committed = tags.read_text()
    target, state = cluster_target()
    up = cli("up", "--skip-dags-check")
    assert up.returncode == 0, up.stdout + up.stderr
    images = cli("images", "--base-image", base_image, *(["--ca-bundle", str(HOST_CA)] if HOST_CA.is_file() else []))
    assert images.returncode == 0, images.stderr
    e2e = cli("e2e", "--dag", "example1", "--timeout", "600")
    assert e2e.returncode == 0, e2e.stdout + e2e.stderr
    run_id = re.search(r"ok: run (\S+) succeeded", e2e.stdout)
    assert run_id, e2e.stdout
    yield target, state, run_id.group(1)
    tags.write_text(committed)


def test_component_logs_show_every_replica_with_its_pod(env: Any) -> None:
    one = day2("logs", "scheduler", "--tail", "5")
    assert one.returncode == 0, one.stderr
    lines = one.stdout.splitlines()
    assert lines and all(line.startswith("[pod/airflow-scheduler-") for line in lines), one.stdout
    every = day2("logs", "--tail", "2")
    assert every.returncode == 0, every.stderr
    shown = set(re.findall(r"^\[pod/airflow-([a-z-]+?)-[a-z0-9]+(?:-[a-z0-9]+)?/", every.stdout, re.M))
    assert shown == set(COMPONENTS), every.stdout


def test_component_logs_follow_until_interrupted(env: Any) -> None:
    target, _, _ = env
    # As from a terminal: a suite started as a background job inherits SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler in the child, so Ctrl-C would not reach `logs -f` at all.
    proc = subprocess.Popen([sys.executable, "-m", "automation", "logs", "api-server", "-f", "--tail", "1",
                             "--target", target.name], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("[pod/airflow-api-server-"), first
        time.sleep(2)
        assert proc.poll() is None  # still following
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=30)
    finally:
        proc.kill()
    assert "Traceback" not in (proc.stderr.read() if proc.stderr else "")


def test_task_log_after_its_pod_is_gone(env: Any) -> None:
    target, state, run_id = env
    # Successful task pods are deleted: the log comes from the claim, through the API or straight from it.
    assert not state.list("Pod", target.namespace, "dag_id=example1,task_id=extract")
    latest = day2("logs", "--dag", "example1", "--task", "extract")
    assert latest.returncode == 0, latest.stderr
    assert f"run {run_id}, try 1, state success), from the REST API" in latest.stdout
    assert "pod facts: dags read-only; config INPUT_FILE set; secret API_TOKEN set" in latest.stdout
    claim = day2("logs", "--dag", "example1", "--task", "extract", "--run", run_id, "--from", "volume")
    assert claim.returncode == 0, claim.stderr
    assert f"from the logs claim: /opt/airflow/logs/dag_id=example1/run_id={run_id}/task_id=extract/attempt=1.log" \
        in claim.stdout
    assert "pod facts: dags read-only" in claim.stdout


@pytest.mark.parametrize("source", ["api", "volume"])
def test_task_log_bad_input_names_what_exists(env: Any, source: str) -> None:
    _, _, run_id = env
    where = ["--from", source]
    one_error_line(day2("logs", "--dag", "nope", "--task", "extract", *where), "'nope'", "example1")
    one_error_line(day2("logs", "--dag", "example1", "--task", "nope", *where), "'nope'", "extract", "transform")
    one_error_line(day2("logs", "--dag", "example1", "--task", "extract", "--run", "no-such-run", *where),
                   "'no-such-run'", run_id)
    one_error_line(day2("logs", "--dag", "example1", "--task", "extract", "--try", "9", *where), "9")


def test_failed_task_shows_its_pod_events_and_container_log(env: Any) -> None:
    target, _, _ = env
    # A new DAG id each time: the dag-processor may still be retiring the one a previous session removed.
    dag_id = f"cluster_test_failing_{int(time.time())}"
    dag_file = REPO / f"dags/zz_{dag_id}.py"
    dag_file.write_text(FAILING_DAG.replace("DAG_ID", dag_id))
    try:
        failed = cli("e2e", "--dag", dag_id, "--timeout", "400")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        log = day2("logs", "--dag", dag_id, "--task", "refused")
    finally:
        dag_file.unlink()
        kubectl(target, "delete", "pods", "-l", f"dag_id={dag_id}", "--wait=false")
    assert log.returncode == 0, log.stderr
    assert "state failed), from the REST API" in log.stdout
    assert re.search(r"--- pod \S+ \(task refused\): Failed", log.stdout), log.stdout
    assert re.search(r"event \S+: Normal (Scheduled|Pulled|Created|Started)", log.stdout), log.stdout
    assert "container log (last 40 lines):" in log.stdout
    # The script's own complaint, from the kept pod's container (argparse: the required option comes first).
    assert "the following arguments are required: --run-id" in log.stdout.split("container log", 1)[1]


def test_airflow_cli_streams_output_and_passes_the_exit_code(env: Any) -> None:
    listed = day2("airflow", "--", "dags", "list", "-o", "json")
    assert listed.returncode == 0, listed.stderr
    payload = next(line for line in listed.stdout.splitlines() if line.startswith("[{"))
    assert {"example1", "example_db", "example_notebook"} <= {d["dag_id"] for d in json.loads(payload)}
    missing = day2("airflow", "--", "tasks", "list", "no_such_dag")
    assert missing.returncode == 1  # Airflow's own exit code, through kubectl exec
    assert "Dag 'no_such_dag' could not be found" in missing.stdout + missing.stderr


def test_shell_reads_this_terminal_and_passes_the_exit_code(env: Any) -> None:
    target, _, _ = env
    result = subprocess.run([sys.executable, "-m", "automation", "shell", "--target", target.name],
                            input="echo in-$((6*7)) as $(id -u)\nexit 5\n", cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 5, result.stderr
    assert "in-42 as 50000" in result.stdout


def test_unknown_component_lists_the_real_ones(env: Any) -> None:
    for command in (["logs", "schedulr"], ["shell", "schedulr"], ["restart", "schedulr"],
                    ["airflow", "--component", "schedulr", "--", "version"]):
        one_error_line(day2(*command), "unknown component 'schedulr'",
                       "api-server, dag-processor, scheduler, triggerer")


def test_restart_rolls_the_components_and_keeps_fernet_key_and_data(env: Any) -> None:
    target, state, run_id = env
    stored = day2("airflow", "--", "connections", "add", CONN_ID, "--conn-type", "postgres", "--conn-host", "db",
                 "--conn-password", CONN_PASSWORD)
    assert stored.returncode == 0 or "already exists" in stored.stdout + stored.stderr, stored.stderr
    fernet, objects, revision = fernet_key(state, target), resource_versions(state, target), helm_revision(target)
    before = pod_uids(state, target)
    assert set(before) == set(COMPONENTS)
    started = time.monotonic()
    restarted = day2("restart")
    print(f"restart took {time.monotonic() - started:.1f}s")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert "ok: ready after" in restarted.stdout
    after = pod_uids(state, target)
    for component in COMPONENTS:
        assert after[component] and not after[component] & before[component], component  # new pods, all of them
    # Nothing else touched: no Helm upgrade, no object rewritten, the same Fernet key.
    assert helm_revision(target) == revision
    assert resource_versions(state, target) == objects
    assert fernet_key(state, target) == fernet
    # The data: a stored (encrypted) connection still decrypts, and an earlier task's log is still there.
    got = day2("airflow", "--", "connections", "get", CONN_ID, "-o", "json")
    assert got.returncode == 0, got.stderr
    assert CONN_PASSWORD in got.stdout
    log = day2("logs", "--dag", "example1", "--task", "extract", "--run", run_id)
    assert "pod facts: dags read-only" in log.stdout, log.stdout + log.stderr
    day2("airflow", "--", "connections", "delete", CONN_ID)
