"""Where a task's time goes on a real cluster, phase by phase, beside its physical floor (medians of RUNS):

    nox -s benchmark -- task_time --target ci [--runs 3] [--dag example1]

Runs a one-task DAG (written into dags/ for the run: `project_task` running a script that imports pandas in
pandas-basic, the image example1 uses) and DAG --dag through the REST API, RUNS times each, and splits each
task from Airflow's own timestamps (task instances: scheduled_when, queued_when, start_date, end_date; the
run's start and end; the task log's event times) and from a watch on the namespace's pods (when each worker pod
and task pod was created, ran, ended and went). The floor is measured in the same run: a bare pod with the task
pod's own spec (image, command, script, volumes), created to completed, RUNS times; and the worker's floor: a bare
pod with the worker pod's spec that only imports what the worker imports before it reads the DAG file (their sum
is the design's floor: a worker pod per task, which starts the task's pod). Prints the settings the
phases depend on (the operator's intervals from `common.utils`, the scheduler's from the chart's airflow.cfg).
Needs a target that is up with its images (`nox -s up`, `nox -s images`).

Targets (issue 26): per-task overhead (queued to done minus the script's own run) <= 2x the floor; example1
(3 tasks) trigger to done <= 15 s.
"""

from __future__ import annotations

import argparse
import configparser
import copy
import datetime as dt
import shutil
import statistics
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(1, str(REPO / "dags"))

from automation.airflow.client import AirflowApi  # noqa: E402
from automation.core.runner import Runner  # noqa: E402
from automation.k8s.cluster import LiveCluster  # noqa: E402
from automation.providers import provider_for  # noqa: E402
from automation.providers.airflow_endpoint import endpoint, temporary_forward  # noqa: E402
from automation.settings import load_target  # noqa: E402

ONE_TASK_DAG = "zz_task_time"
FOLDER = REPO / "dags" / ONE_TASK_DAG
# "airflow" and "dag" in the text: the dag-processor's safe mode skips a file without both.
DAG_FILE = '''"""Airflow DAG written by benchmarks/task_time.py, removed when it ends: one task, the floor's script."""
from common.utils import project_dag, project_task

with project_dag("example1", "{dag_id}", output="output/summary.csv", tags=["benchmark"]):
    project_task("example1", "only", "{dag_id}/script.py")
'''
# The same work as the floor's bare pod: start Python in the image and import pandas.
SCRIPT = 'import pandas\n\nprint("pandas", pandas.__version__)\n'
# What a KubernetesExecutor worker pod imports before it reads the DAG file (airflow.sdk.execution_time.
# execute_workload and what it calls): the worker's own floor, in a bare pod with the worker pod's spec.
WORKER_IMPORTS = ["python", "-c", "import airflow.executors.workloads, airflow.executors.base_executor, "
                  "airflow.sdk.execution_time.supervisor, airflow.sdk.execution_time.task_runner"]
TIMEOUT = 300
SCHEDULER_KEYS = [("scheduler", "scheduler_idle_sleep_time"), ("scheduler", "scheduler_heartbeat_sec"),
                  ("scheduler", "task_queued_timeout_check_interval"),
                  ("kubernetes_executor", "worker_pods_creation_batch_size"),
                  ("kubernetes_executor", "delete_worker_pods"),
                  ("dag_processor", "refresh_interval"), ("core", "min_serialized_dag_update_interval")]


def ts(text: str | None) -> float | None:
    """An API or Kubernetes timestamp as epoch seconds (this host's clock is the cluster's: one machine)."""
    if not text:
        return None
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# -- a watch on the namespace's pods ------------------------------------------------------------------------------
@dataclass
class PodSeen:
    """When this process saw each change of one pod (wall clock), and its first and last copies."""

    name: str
    labels: dict[str, str]
    first: dict[str, Any]
    added: float
    running: float | None = None
    terminated: float | None = None
    deleting: float | None = None
    gone: float | None = None
    last: dict[str, Any] = field(default_factory=dict)


class PodWatch:
    def __init__(self, cluster: LiveCluster, namespace: str) -> None:
        from kubernetes import client, watch

        self.core = client.CoreV1Api(cluster.api_client)
        self.namespace = namespace
        self.pods: dict[str, PodSeen] = {}
        self.lock = threading.Lock()
        self._watch = watch.Watch()
        self._stop = False
        version = self.core.list_namespaced_pod(namespace).metadata.resource_version
        self._thread = threading.Thread(target=self._run, args=(version,), daemon=True)
        self._thread.start()

    def _run(self, version: str) -> None:
        while not self._stop:
            try:
                for event in self._watch.stream(self.core.list_namespaced_pod, self.namespace,
                                                resource_version=version, timeout_seconds=60):
                    self._seen(event["type"], event["object"], time.time())
                    version = event["object"].metadata.resource_version
            except Exception as exc:  # a watch the API server ended: resume from where it was
                if self._stop:
                    return
                print(f"  (pod watch resumed: {type(exc).__name__})", flush=True)
                version = self.core.list_namespaced_pod(self.namespace).metadata.resource_version

    def _seen(self, kind: str, pod: Any, now: float) -> None:
        name = pod.metadata.name
        raw = self.core.api_client.sanitize_for_serialization(pod)
        with self.lock:
            seen = self.pods.get(name)
            if seen is None:
                seen = self.pods[name] = PodSeen(name, dict(pod.metadata.labels or {}), raw, now)
            seen.last = raw
            states = [c.state for c in (pod.status.container_statuses or []) if c.name == "base"] or \
                [c.state for c in (pod.status.container_statuses or [])]
            if seen.running is None and (pod.status.phase == "Running" or any(s and s.running for s in states)):
                seen.running = now
            if seen.terminated is None and (pod.status.phase in ("Succeeded", "Failed")
                                            or any(s and s.terminated for s in states)):
                seen.terminated = now
                seen.running = seen.running or now
            if seen.deleting is None and pod.metadata.deletion_timestamp is not None:
                seen.deleting = now
            if kind == "DELETED":
                seen.gone = now
                seen.deleting = seen.deleting or now

    def find(self, match: Callable[[PodSeen], bool], since: float) -> PodSeen | None:
        with self.lock:
            found = [p for p in self.pods.values() if p.added >= since and match(p)]
        return max(found, key=lambda p: p.added) if found else None

    def until(self, name: str, what: Callable[[PodSeen], bool], timeout: float = TIMEOUT) -> PodSeen:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                seen = self.pods.get(name)
                if seen is not None and what(seen):
                    return seen
            time.sleep(0.05)
        sys.exit(f"pod {name}: not seen in the expected state within {timeout}s")

    def stop(self) -> None:
        self._stop = True
        self._watch.stop()


# -- one run's phases ---------------------------------------------------------------------------------------------
def log_times(api: AirflowApi, dag: str, run_id: str, ti: dict[str, Any]) -> dict[str, float]:
    """Times of the operator's own steps, from the task log's event timestamps (the worker's clock)."""
    path = f"/api/v2/dags/{dag}/dagRuns/{run_id}/taskInstances/{ti['task_id']}/logs/{ti['try_number']}"
    content = api.request("GET", path, params={"full_content": "true"}).json().get("content") or []
    out: dict[str, float] = {}
    for item in content:
        if not isinstance(item, dict) or not item.get("timestamp"):
            continue
        event, at = str(item.get("event", "")), ts(item["timestamp"])
        assert at is not None
        out.setdefault("log_first", at)
        if event.startswith("Filling up the DagBag"):
            out.setdefault("parse_start", at)
        elif event.startswith("Building pod"):
            out.setdefault("pod_build", at)
        elif event == "::endgroup::" and "pod_build" in out:
            out.setdefault("start_noticed", at)  # the operator saw the pod leave Pending
        elif event.startswith("[base]"):
            out["script_log_last"] = at
        elif event.startswith("Deleting pod"):
            out.setdefault("delete_call", at)
    return out


def pod_of(dag: str, task: str, *, task_pod: bool) -> Callable[[PodSeen], bool]:
    """The executor's worker pod of a task, or the operator's task pod (labelled kubernetes_pod_operator)."""
    def match(p: PodSeen) -> bool:
        return (p.labels.get("dag_id") == dag and p.labels.get("task_id") == task
                and ("kubernetes_pod_operator" in p.labels) == task_pod)
    return match


PHASES = [
    "ready -> queued (scheduler)",
    "queued -> worker pod created (executor)",
    "worker pod created -> running",
    "worker running -> task pod created (worker start, DAG parse)",
    "task pod created -> running",
    "task pod running -> operator notices (start-up check)",
    "script (task pod running -> ended)",
    "task pod ended -> delete called (completion noticed, logs fetched)",
    "delete called -> task marked done",
    "task pod delete -> gone",
    "last task done -> run marked done",
]
# A downstream task's "ready" is its upstream's end: the gap between them is counted once, in its own first row.


def phases(watch: PodWatch, api: AirflowApi, dag: str, run: dict[str, Any], tis: list[dict[str, Any]],
           since: float) -> dict[str, dict[str, float]]:
    """Phase -> seconds, per task id, plus each task's queued-to-done and the run's trigger-to-done."""
    by_task: dict[str, dict[str, float]] = {}
    tis = sorted(tis, key=lambda t: ts(t["queued_when"]) or 0)
    ready = ts(run["start_date"])
    for i, ti in enumerate(tis):
        task = ti["task_id"]
        queued, started, ended = ts(ti["queued_when"]), ts(ti["start_date"]), ts(ti["end_date"])
        assert ready and queued and started and ended, f"{task}: missing timestamps {ti}"
        worker = watch.find(pod_of(dag, task, task_pod=False), since)
        pod = watch.find(pod_of(dag, task, task_pod=True), since)
        assert worker and pod and worker.running and pod.running and pod.terminated, f"{task}: pods not seen"
        logs = log_times(api, dag, run["dag_run_id"], ti)
        script = pod.terminated - pod.running
        got = {
            PHASES[0]: queued - ready,
            PHASES[1]: worker.added - queued,
            PHASES[2]: worker.running - worker.added,
            PHASES[3]: pod.added - worker.running,
            PHASES[4]: pod.running - pod.added,
            PHASES[5]: logs.get("start_noticed", pod.running) - pod.running,
            PHASES[6]: script,
            PHASES[7]: logs.get("delete_call", ended) - pod.terminated,
            PHASES[8]: ended - logs.get("delete_call", ended),
            PHASES[9]: (pod.gone or pod.deleting or ended) - logs.get("delete_call", ended),
            "queued -> done": ended - queued,
            "overhead (queued -> done - script)": ended - queued - script,
            "worker parse (log)": logs.get("pod_build", started) - logs.get("parse_start", started),
        }
        if i == len(tis) - 1:
            got[PHASES[10]] = (ts(run["end_date"]) or ended) - ended
        by_task[task] = got
        ready = ended
    by_task["(run)"] = {"trigger -> done": (ts(run["end_date"]) or 0) - (ts(run["queued_at"]) or 0)}
    return by_task


def run_dag(api: AirflowApi, watch: PodWatch, dag: str) -> dict[str, dict[str, float]]:
    since = time.time()
    run_id = api.trigger(dag)["dag_run_id"]
    deadline = time.monotonic() + TIMEOUT
    while True:
        run = api.dag_run(dag, run_id)
        if run.get("state") in ("success", "failed"):
            break
        if time.monotonic() > deadline:
            sys.exit(f"{dag} run {run_id}: not done within {TIMEOUT}s")
        time.sleep(0.5)
    if run["state"] != "success":
        sys.exit(f"{dag} run {run_id} failed: see `nox -s logs -- --dag {dag} --task ...`")
    time.sleep(2)  # the last pod's DELETED event
    return phases(watch, api, dag, run, api.task_instances(dag, run_id), since)


# -- the floor: the task pod's own spec, created bare -------------------------------------------------------------
def floor_once(watch: PodWatch, template: dict[str, Any], command: list[str] | None = None) -> float:
    """A bare pod with `template`'s spec (its first container running `command` instead, when given), created to
    completed."""
    body = copy.deepcopy(template)
    name = f"task-time-floor-{uuid.uuid4().hex[:6]}"
    body["metadata"] = {"name": name, "namespace": watch.namespace, "labels": {"benchmark": "task-time-floor"}}
    body.pop("status", None)
    body["spec"].pop("nodeName", None)
    if command is not None:
        container = body["spec"]["containers"][0]
        container["command"], container["args"] = command, []
    t0 = time.time()
    watch.core.create_namespaced_pod(watch.namespace, body)
    seen = watch.until(name, lambda p: p.last.get("status", {}).get("phase") in ("Succeeded", "Failed"))
    took = (seen.terminated or time.time()) - t0
    phase = seen.last["status"]["phase"]
    watch.core.delete_namespaced_pod(name, watch.namespace, grace_period_seconds=0)
    if phase != "Succeeded":
        sys.exit(f"floor pod {name} {phase}: the task pod's spec does not run bare")
    return took


# -- settings -----------------------------------------------------------------------------------------------------
def settings(watch: PodWatch, release: str, target_name: str) -> list[str]:
    from common.contract import TaskPodFacts
    from common.utils import pod_timing

    lines = [f"operator (common.utils.pod_timing): {pod_timing(TaskPodFacts(target=target_name))}"]
    cm = watch.core.read_namespaced_config_map(f"{release}-config", watch.namespace)
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string((cm.data or {}).get("airflow.cfg", ""))
    shown = [f"[{s}] {k} = {cfg.get(s, k, fallback='(Airflow default)')}" for s, k in SCHEDULER_KEYS]
    lines.append("airflow.cfg: " + "; ".join(shown))
    return lines


def median_table(name: str, runs: list[dict[str, dict[str, float]]], floor: float) -> None:
    print(f"\n{name}: medians of {len(runs)} runs (seconds)")
    tasks = [t for t in runs[0] if t != "(run)"]
    values: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for run in runs:
        for task, got in run.items():
            for phase, v in got.items():
                values[task][phase].append(v)
    rows = [*PHASES, "queued -> done", "overhead (queued -> done - script)", "worker parse (log)"]
    print("| phase | " + " | ".join(tasks) + " |")
    print("| --- |" + " --- |" * len(tasks))
    for phase in rows:
        cells = [f"{statistics.median(values[t][phase]):.2f}" if values[t][phase] else "-" for t in tasks]
        print(f"| {phase} | " + " | ".join(cells) + " |")
    total = statistics.median(values["(run)"]["trigger -> done"])
    overheads = [statistics.median(values[t]["overhead (queued -> done - script)"]) for t in tasks]
    print(f"trigger -> done: median {total:.2f}s of {[round(v, 2) for v in values['(run)']['trigger -> done']]}")
    worst = max(overheads)
    print(f"per-task overhead: {', '.join(f'{o:.2f}' for o in overheads)} s vs floor {floor:.2f} s: "
          f"{worst / floor:.2f}x (target <= 2x: {'ok' if worst <= 2 * floor else 'above target'})", flush=True)


def wait_dag(api: AirflowApi, dag: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    # A stale row (the file of an interrupted run, removed) answers too, but cannot be triggered.
    while (found := api.dag(dag)) is None or found.get("is_stale"):
        if time.monotonic() > deadline:
            sys.exit(f"DAG {dag} not in the API within {TIMEOUT}s (`nox -s dags` for its import errors)")
        time.sleep(1)
    api.set_paused(dag, False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dag", default="example1")
    args = parser.parse_args()
    target = load_target(args.target)
    runner = Runner(out=open("/dev/null", "w"))  # noqa: SIM115  (quiet for the whole run)
    provider = provider_for(runner, target)
    cluster = provider.state()
    if not isinstance(cluster, LiveCluster):
        sys.exit(f"target {target.name}: cluster unreachable ({getattr(cluster, 'why', '')}): run `nox -s up`")
    FOLDER.mkdir(exist_ok=True)
    (FOLDER / "script.py").write_text(SCRIPT)
    staged = FOLDER / "dag.tmp"
    staged.write_text(DAG_FILE.format(dag_id=ONE_TASK_DAG))
    staged.replace(FOLDER / f"{ONE_TASK_DAG}.py")
    watch = PodWatch(cluster, target.namespace)
    try:
        with temporary_forward(runner, provider) as url:
            api = endpoint(provider, url).connect()
            print(f"target {target.name} ({target.provider}), {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                  f"{args.runs} runs each", flush=True)
            for line in settings(watch, target.release, target.name):
                print(f"  {line}")
            wait_dag(api, ONE_TASK_DAG)
            wait_dag(api, args.dag)
            run_dag(api, watch, ONE_TASK_DAG)  # warm-up: images in the node's cache, worker code paths
            one = [run_dag(api, watch, ONE_TASK_DAG) for _ in range(args.runs)]
            template = watch.find(pod_of(ONE_TASK_DAG, "only", task_pod=True), 0)
            assert template is not None
            floors = [floor_once(watch, template.first) for _ in range(args.runs)]
            floor = statistics.median(floors)
            print(f"\nfloor: a bare pod with the task pod's spec, created -> completed: median {floor:.2f}s of "
                  f"{[round(f, 2) for f in floors]}")
            worker = watch.find(pod_of(ONE_TASK_DAG, "only", task_pod=False), 0)
            assert worker is not None
            worker_floors = [floor_once(watch, worker.first, WORKER_IMPORTS) for _ in range(args.runs)]
            worker_floor = statistics.median(worker_floors)
            print(f"worker floor: a bare pod with the worker pod's spec importing what the worker imports before "
                  f"the DAG file, created -> completed: median {worker_floor:.2f}s of "
                  f"{[round(f, 2) for f in worker_floors]}")
            median_table(f"one-task DAG {ONE_TASK_DAG}", one, floor)
            whole = statistics.median(run["only"]["queued -> done"] for run in one)
            print(f"one task, queued -> done {whole:.2f}s vs the design's floor (worker floor + floor) "
                  f"{worker_floor + floor:.2f}s: {whole / (worker_floor + floor):.2f}x")
            many = [run_dag(api, watch, args.dag) for _ in range(args.runs)]
            median_table(f"DAG {args.dag}", many, floor)
            api.request("DELETE", f"/api/v2/dags/{ONE_TASK_DAG}", ok=(200, 204, 404, 409))
    finally:
        watch.stop()
        shutil.rmtree(FOLDER, ignore_errors=True)


if __name__ == "__main__":
    main()
