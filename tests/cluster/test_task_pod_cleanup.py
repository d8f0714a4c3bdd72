"""A failed task never blocks the cluster, on a real Kubernetes: a task whose image does not exist fails run
after run, and none of its pods stays behind holding the node's room (each is deleted when its task gives up);
its task log still holds the kubelet's pull error, from the pod's events; example1 still runs afterwards. A
task that ran and failed keeps its pod only within the bound. A task that fails once is retried, and each try's
log holds its own script output (the operator's quicker start and end checks, common.utils.pod_timing and
project_pod.PromptPodManager, change when a pod's state is seen, not what is decided). Needs nothing from another
module: `up` is a no-op when the target is already up."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from automation.e2e.diagnose import safe_label
from tests.cluster.support import TARGET, cli, cluster_target, kubectl, wait_until
from tests.conftest import HOST_CA, REPO, run_cli

pytestmark = pytest.mark.cluster
RUNS = 3
MISSING_IMAGE_DAG = '''"""Airflow DAG written by the task-pod cleanup cluster test: its task's image does not exist."""
from common.utils import image_ref, project_dag, project_task

with project_dag("example1", "DAG_ID", output="output/never.csv"):
    task = project_task("example1", "pull", "example1/scripts/extract.py", startup_timeout_seconds=20)
    # Where the target's images are (its registry, if any), under a name nothing ever pushed.
    known = image_ref("pandas-basic")
    task.image = known[: known.rindex("pandas-basic")] + "no-such-image:missing"
'''

# Its task runs and fails (its script refuses the arguments): a failed pod that ran, kept within the bound.
REFUSED_ARGS_DAG = '''"""Airflow DAG written by the task-pod cleanup cluster test: its script refuses its arguments."""
from common.utils import project_dag, project_task

with project_dag("example1", "DAG_ID", output="output/never.csv"):
    project_task("example1", "refused", "example1/scripts/extract.py", args=["--no-such-flag"], keep_failed_pods=1)
'''

# Its task fails on its first try and succeeds on its retry (a marker file in the project's data remembers).
FLAKY_DAG = '''"""Airflow DAG written by the task-pod cleanup cluster test: its task succeeds on its retry."""
from datetime import timedelta

from common.utils import project_dag, project_task

with project_dag("example1", "DAG_ID", output="output/DAG_ID.txt"):
    project_task("example1", "flaky", "zz_DAG_ID_flaky.py", args=["DAG_ID"], retries=1,
                 retry_delay=timedelta(seconds=1))
'''
FLAKY_SCRIPT = '''import os, pathlib, sys
root = pathlib.Path(os.environ["DATA_ROOT"])
marker = root / "work" / f"{sys.argv[1]}.first-try"
if not marker.exists():
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("failed once")
    sys.exit("first try: failing on purpose")
(root / "output").mkdir(parents=True, exist_ok=True)
(root / "output" / f"{sys.argv[1]}.txt").write_text("second try: ok")
marker.unlink()
print("second try: ok", flush=True)
'''


@pytest.fixture(scope="module")
def target(k8s_cluster: Any, base_image: str) -> Any:
    """The target up (a no-op when it already is) with the worker images example1 needs."""
    up = cli("up", "--skip-dags-check")
    assert up.returncode == 0, up.stdout + up.stderr
    images = cli("images", "--base-image", base_image, *(["--ca-bundle", str(HOST_CA)] if HOST_CA.is_file() else []))
    assert images.returncode == 0, images.stderr
    found, state = cluster_target()
    return found, state


@pytest.fixture
def dag_file(target: Any) -> Any:
    """`dag_file(TEMPLATE)`: the DAG written into dags/ under a new id, its id; removed after, with its pods."""
    found, _ = target
    written: list[tuple[str, Any]] = []

    def write(template: str) -> str:
        # A new DAG id each time: the dag-processor may still be retiring the one a previous session removed.
        dag_id = f"cluster_test_task_pods_{time.time_ns()}"
        path = REPO / f"dags/zz_{dag_id}.py"
        path.write_text(template.replace("DAG_ID", dag_id))
        written.append((dag_id, path))
        return dag_id

    yield write
    for dag_id, path in written:
        path.unlink()
        kubectl(found, "delete", "pods", "-l", f"dag_id={dag_id}", "--wait=false")


def run_states(dag_id: str) -> dict[str, str]:
    # The target first: everything after `airflow --` is Airflow's.
    listed = run_cli("airflow", "--target", TARGET, "--", "dags", "list-runs", dag_id, "-o", "json", timeout=300)
    payload = next((line for line in listed.stdout.splitlines() if line.startswith("[")), "[]")
    return {str(run.get("run_id") or run.get("dag_run_id")): str(run.get("state")) for run in json.loads(payload)}


def task_pods(state: Any, namespace: str, dag_id: str) -> list[str]:
    selector = f"kubernetes_pod_operator=True,dag_id={dag_id}"
    return [pod["metadata"]["name"] for pod in state.list("Pod", namespace, selector)]


def failed_runs(dag_id: str, runs: int) -> list[str]:
    """Trigger `runs` runs of the DAG, each expected to fail; their ids once every one has failed."""
    run_ids = []
    for _ in range(runs):
        failed = cli("e2e", "--dag", dag_id, "--timeout", "300")
        assert failed.returncode == 1, failed.stdout + failed.stderr
        run_ids.append(re.search(r"^\s+ok: run (\S+)$", failed.stdout, re.M).group(1))  # type: ignore[union-attr]
    # e2e stops at the first sight of a pull error; the task itself gives up on its own.
    wait_until(lambda: all(run_states(dag_id).get(r) == "failed" for r in run_ids), 300, f"{runs} runs failed")
    return run_ids


def test_task_pods_whose_image_cannot_be_pulled_leave_nothing_behind(target: Any, dag_file: Any) -> None:
    found, state = target
    dag_id = dag_file(MISSING_IMAGE_DAG)
    started = time.monotonic()
    run_ids = failed_runs(dag_id, RUNS)
    # Deleted when their tasks gave up (a pod in ImagePullBackOff would otherwise stay for ever, its requests held).
    wait_until(lambda: not task_pods(state, found.namespace, dag_id), 60, "no task pod of the DAG left")
    print(f"{RUNS} failed runs, and their pods gone, in {time.monotonic() - started:.0f}s")

    log = cli("logs", "--dag", dag_id, "--task", "pull")
    assert log.returncode == 0, log.stderr
    assert f"run {run_ids[-1]}, try 1, state failed), from the REST API" in log.stdout
    # The task's own log, as Airflow stored it: before what `logs` adds from the cluster (pods, events).
    stored = re.split(r"\n(?:--- pod |    event )", log.stdout, maxsplit=1)[0]
    assert "Failed to pull image" in stored and "no-such-image:missing" in stored, stored
    assert re.search(r"Deleting pod \S+: it never started \((ErrImagePull|ImagePullBackOff)\)", stored), stored

    # The cluster still runs the next task pod.
    e2e = cli("e2e", "--dag", "example1", "--timeout", "600")
    assert e2e.returncode == 0, e2e.stdout + e2e.stderr
    assert re.search(r"ok: run \S+ succeeded", e2e.stdout), e2e.stdout


def test_failed_pods_that_ran_are_kept_within_the_bound(target: Any, dag_file: Any) -> None:
    found, state = target
    dag_id = dag_file(REFUSED_ARGS_DAG)
    first, second = failed_runs(dag_id, 2)
    # The second task's cleanup deleted the first one's pod: one failed pod kept (keep_failed_pods=1), the newest.
    wait_until(lambda: len(task_pods(state, found.namespace, dag_id)) == 1, 60, "one failed pod of the DAG kept")
    [kept] = state.list("Pod", found.namespace, f"kubernetes_pod_operator=True,dag_id={dag_id}")
    assert kept["status"]["phase"] == "Failed"
    assert kept["metadata"]["labels"]["run_id"] == safe_label(second) != safe_label(first)
    log = cli("logs", "--dag", dag_id, "--task", "refused", "--run", first)
    assert log.returncode == 0, log.stderr
    stored = re.split(r"\n(?:--- pod |    event )", log.stdout, maxsplit=1)[0]
    # The deleted pod's container log is still in its task's log.
    assert "the following arguments are required: --run-id" in stored, stored


def test_a_task_that_fails_once_is_retried_and_each_try_keeps_its_log(target: Any, dag_file: Any) -> None:
    dag_id = dag_file(FLAKY_DAG)
    script = REPO / f"dags/zz_{dag_id}_flaky.py"
    output = REPO / f"data/example1/output/{dag_id}.txt"
    script.write_text(FLAKY_SCRIPT)
    try:
        run = cli("e2e", "--dag", dag_id, "--timeout", "300")
        assert run.returncode == 0, run.stdout + run.stderr
        run_id = re.search(r"^\s+ok: run (\S+)$", run.stdout, re.M).group(1)  # type: ignore[union-attr]
        logs = {}
        for attempt in (1, 2):
            log = cli("logs", "--dag", dag_id, "--task", "flaky", "--run", run_id, "--try", str(attempt))
            assert log.returncode == 0, log.stderr
            logs[attempt] = re.split(r"\n(?:--- pod |    event )", log.stdout, maxsplit=1)[0]
        assert "first try: failing on purpose" in logs[1] and "second try: ok" not in logs[1], logs[1]
        assert "second try: ok" in logs[2] and "first try: failing on purpose" not in logs[2], logs[2]
        assert output.read_text() == "second try: ok"
    finally:
        script.unlink(missing_ok=True)
        output.unlink(missing_ok=True)
