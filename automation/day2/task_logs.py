"""`logs --dag DAG --task TASK [--run RUN]`: one task's log, by DAG, task and run (default: the latest run).

Read through Airflow's REST API (`GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/
{try_number}`), or straight from the logs claim when the API cannot be reached or `--from volume` asks for it.
Either way the log outlives the task's pod: workers write it to the claim, and the API server reads it back from
there. A failed task's kept pods add their events and container log (e2e.diagnose).
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from typing import Any

from automation.airflow.client import AirflowApi, format_log
from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.day2.components import LOGS_PATH, Component, cluster_only, discover, kubectl
from automation.e2e.diagnose import pod_events
from automation.providers import Provider
from automation.providers.airflow_endpoint import api_url, endpoint

SOURCES = ("auto", "api", "volume")
# Task instance states whose pods are kept and worth a look (delete_worker_pods_on_failure: False).
FAILED = ("failed", "up_for_retry")
POD_LOG_LINES = 40

# Runs in a component's container (its Python, as uid 50000): finds the log file of a task on the logs claim,
# the newest run and last attempt unless named, and answers a missing level with the names that exist there.
# argv: logs folder, dag_id, task_id, run_id or "", attempt or "", map_index.
VOLUME_READER = r"""
import json, os, sys
root, dag, task, run, attempt, map_index = sys.argv[1:7]
def pick(folder, prefix, wanted, what, newest):
    try:
        names = [n for n in os.listdir(folder) if n.startswith(prefix)]
    except OSError:
        names = []
    names.sort(key=newest, reverse=True)
    if wanted and prefix + wanted in names:
        return os.path.join(folder, prefix + wanted)
    if not wanted and names:
        return os.path.join(folder, names[0])
    print(json.dumps({"missing": what, "wanted": wanted, "exists": [n[len(prefix):] for n in names][:15]}))
    sys.exit(3)
by_time = lambda folder: (lambda n: os.path.getmtime(os.path.join(folder, n)))
folder = pick(root, "dag_id=", dag, "dag", by_time(root))
folder = pick(folder, "run_id=", run, "run", by_time(folder))
folder = pick(folder, "task_id=", task, "task", by_time(folder))
if int(map_index) >= 0:
    folder = pick(folder, "map_index=", map_index, "map_index", by_time(folder))
number = lambda n: int(n[len("attempt="):-len(".log")]) if n[len("attempt="):-len(".log")].isdigit() else -1
path = pick(folder, "attempt=", attempt + ".log" if attempt else "", "attempt", number)
print(json.dumps({"path": path}))
sys.stdout.write(open(path, errors="replace").read())
"""


@dataclass(frozen=True)
class ApiAccess:
    """How to reach the REST API: what the user passed (None: the target's default)."""

    url: str | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    # Short: with --from auto the logs claim stands in for an API that does not answer.
    connect_timeout: float = 15


@dataclass
class TaskLogRequest:
    dag_id: str
    task_id: str
    run_id: str | None = None
    try_number: int | None = None
    map_index: int = -1
    source: str = "auto"
    api: ApiAccess = field(default_factory=ApiAccess)


def task_log(runner: Runner, provider: Provider, req: TaskLogRequest) -> int:
    if provider.cluster is None:
        # Cloud Composer: its Airflow API serves task logs (signed in with a Google token); no claim to read.
        if req.source == "volume":
            cluster_only(provider, "reading the logs claim", composer_log_command(provider, req))
        req = replace(req, source="api")
    if runner.dry_run:
        _plan(runner, provider, req)
        return 0
    if req.source != "volume":
        with ExitStack() as stack:
            api = _connect(runner, provider, req, stack)
            if api is not None:
                return _from_api(runner, provider, api, req)
    return _from_volume(runner, provider, req)


# -- the REST API ----------------------------------------------------------------------------------------------
def _connect(runner: Runner, provider: Provider, req: TaskLogRequest, stack: ExitStack) -> AirflowApi | None:
    """The API client signed in, or None when it cannot be reached and the logs claim may stand in (--from auto).
    A refused login is an error either way: the claim would hide a wrong --password."""
    access = req.api
    try:
        url = stack.enter_context(api_url(runner, provider, access.url))
        api = AirflowApi(url, connect_timeout=access.connect_timeout)
        stack.callback(api.close)
        api.version()
    except UserError as exc:
        if req.source == "api":
            raise
        runner.say(f"    the REST API cannot be reached ({exc.problem}): reading the logs claim instead")
        return None
    endpoint(provider, url, username=access.username, password=access.password).credentials.sign_in(api)
    return api


def _from_api(runner: Runner, provider: Provider, api: AirflowApi, req: TaskLogRequest) -> int:
    dag_id, task_id = req.dag_id, req.task_id
    if api.dag(dag_id) is None:
        ids, total = api.dag_ids()
        raise UserError(f"DAG {dag_id!r} not found (DAGs: {_names(ids, total)})", "pass --dag with one of those")
    tasks = api.task_ids(dag_id)
    if task_id not in tasks:
        raise UserError(f"DAG {dag_id} has no task {task_id!r} (tasks: {_names(tasks)})",
                        "pass --task with one of those")
    run = _run(api, dag_id, req.run_id)
    run_id = run["dag_run_id"]
    ti = _task_instance(api, dag_id, run_id, task_id, req.map_index)
    tried = int(ti.get("try_number") or 0)
    if tried == 0:
        raise UserError(f"task {task_id} of run {run_id} has not started (state: {ti.get('state') or 'none'}): "
                        "no log yet", "wait for it, or read the scheduler's log: nox -s logs -- scheduler",
                        exit_code=1)
    try_number = req.try_number or tried
    if try_number > tried:
        raise UserError(f"task {task_id} of run {run_id} ran {tried} time(s), not {try_number}",
                        f"pass --try between 1 and {tried}")
    runner.say(f"--- log of task {task_id} (DAG {dag_id}, run {run_id}, try {try_number}, state "
               f"{ti.get('state')}), from the REST API")
    for line in api.task_log(dag_id, run_id, task_id, try_number, req.map_index):
        runner.say(line)
    if ti.get("state") in FAILED:
        pod_events(runner, provider, dag_id, run_id, [task_id], log_lines=POD_LOG_LINES)
    return 0


def _run(api: AirflowApi, dag_id: str, run_id: str | None) -> dict[str, Any]:
    if run_id is None:
        latest = api.latest_runs(dag_id, 1)
        if not latest:
            raise UserError(f"DAG {dag_id} has no runs yet", f"trigger one: nox -s e2e -- --dag {dag_id}")
        return latest[0]
    run = api.find_run(dag_id, run_id)
    if run is None:
        recent = [r["dag_run_id"] for r in api.latest_runs(dag_id, 5)]
        raise UserError(f"DAG {dag_id} has no run {run_id!r} (latest runs: {_names(recent)})",
                        "pass --run with one of those, or leave it out for the latest")
    return run


def _task_instance(api: AirflowApi, dag_id: str, run_id: str, task_id: str, map_index: int) -> dict[str, Any]:
    candidates = [t for t in api.task_instances(dag_id, run_id) if t.get("task_id") == task_id]
    for ti in candidates:
        if int(ti.get("map_index", -1)) == map_index:
            return ti
    if candidates:
        indexes = sorted(int(t.get("map_index", -1)) for t in candidates)
        raise UserError(f"task {task_id} of run {run_id} has no map index {map_index} (map indexes: "
                        f"{_names([str(i) for i in indexes])})", "pass --map-index with one of those")
    raise UserError(f"task {task_id} has no instance in run {run_id} (the task is newer than the run)",
                    "pass --run with a later run, or leave it out for the latest")


# -- the logs claim --------------------------------------------------------------------------------------------
def _reader(provider: Provider) -> Component:
    """A component whose container mounts the logs claim, the scheduler first."""
    found = discover(provider)
    mounting = sorted((c for c in found.values() if c.mounts_logs_claim), key=lambda c: c.name != "scheduler")
    if not mounting:
        where = provider.target.logs.remote_base
        raise UserError(f"no component of release {provider.target.release} mounts a logs claim"
                        + (f" (task logs are in {where})" if where else ""),
                        "read them through the REST API: --from api")
    return mounting[0]


def _volume_cmd(provider: Provider, component: Component, req: TaskLogRequest) -> list[str]:
    return [*kubectl(provider), "exec", component.ref, "-c", component.container, "--", "python", "-c",
            VOLUME_READER, LOGS_PATH, req.dag_id, req.task_id, req.run_id or "", str(req.try_number or ""),
            str(req.map_index)]


def _from_volume(runner: Runner, provider: Provider, req: TaskLogRequest) -> int:
    component = _reader(provider)
    result = runner.read(_volume_cmd(provider, component, req), check=False, timeout=120)
    first, _, content = result.stdout.partition("\n")
    try:
        header = json.loads(first)
    except ValueError:
        last = (result.stderr.strip() or result.stdout.strip() or "no output").splitlines()[-1]
        raise UserError(f"reading the logs claim in {component.ref} failed (exit code {result.exit_code}): {last}",
                        f"check the component: {provider.target.command('status')}") from None
    if "missing" in header:
        raise UserError(_missing(header, req), _missing_fix(header))
    path = str(header["path"])
    runner.say(f"--- log of task {req.task_id} (DAG {req.dag_id}), from the logs claim: {path}")
    for line in content.splitlines():
        for text in _structured(line):
            runner.say(text)
    run_id = path.split("/run_id=", 1)[1].split("/task_id=", 1)[0]
    pod_events(runner, provider, req.dag_id, run_id, [req.task_id], log_lines=POD_LOG_LINES)
    return 0


def _structured(line: str) -> list[str]:
    """A line of the file: a JSON event (Airflow 3 writes structured logs), shown as the REST API shows it."""
    try:
        event = json.loads(line)
    except ValueError:
        return [line]
    return format_log([event]) if isinstance(event, dict) else [line]


def _missing(header: dict[str, Any], req: TaskLogRequest) -> str:
    what, wanted, exists = header["missing"], header.get("wanted"), [str(e) for e in header.get("exists") or []]
    if what == "attempt":
        exists = [e.removesuffix(".log") for e in exists]
        wanted = str(wanted).removesuffix(".log")
    named = {"dag": f"DAG {wanted!r}", "run": f"run {wanted!r} of DAG {req.dag_id}",
             "task": f"task {wanted!r} in that run of DAG {req.dag_id}", "map_index": f"map index {wanted}",
             "attempt": f"try {wanted} of task {req.task_id}"}[what]
    if not wanted:
        named = {"dag": "DAG", "run": f"run of DAG {req.dag_id}", "task": "task", "map_index": "map index",
                 "attempt": f"try of task {req.task_id}"}[what]
        return f"no {named} has logs on the logs claim"
    return f"no logs of {named} on the logs claim (there: {_names(exists)})"


def _missing_fix(header: dict[str, Any]) -> str:
    option = {"dag": "--dag", "run": "--run", "task": "--task", "map_index": "--map-index", "attempt": "--try"}
    return f"pass {option[header['missing']]} with one of those" if header.get("exists") else \
        "run the DAG first (nox -s e2e), or check the name"


# -- plan and Composer -------------------------------------------------------------------------------------------
def _plan(runner: Runner, provider: Provider, req: TaskLogRequest) -> None:
    run = req.run_id or "(its latest run)"
    attempt = req.try_number or "(the last try)"
    if req.source != "volume":
        access = req.api
        if provider.deployer.ui_forward is None and not access.password:
            runner.plan(f"sign in to {access.url or 'the Airflow URL the environment serves (airflowUri)'} with "
                        "your Google access token (gcloud auth print-access-token)")
        else:
            runner.plan(f"log in to {access.url or '(the port-forward of `nox -s up`, or a temporary one)'} as "
                        f"{access.username or provider.target.login.username}")
        runner.plan(f"GET /api/v2/dags/{req.dag_id}/dagRuns/{run}/taskInstances/{req.task_id}/logs/{attempt}"
                    f"?full_content=true&map_index={req.map_index}")
    if req.source != "api":
        component = _reader(provider)
        when = "if the API cannot be reached: " if req.source == "auto" else ""
        runner.plan(f"{when}kubectl exec {component.ref} -c {component.container}: read "
                    f"{LOGS_PATH}/dag_id={req.dag_id}/run_id={run}/task_id={req.task_id}/attempt={attempt}.log")
    if provider.cluster is not None:
        runner.plan(f"if it failed: events and container log of its kept pods in namespace "
                    f"{provider.task_pod_facts().namespace}")


def composer_log_command(provider: Provider, req: TaskLogRequest) -> str:
    composer = provider.target.composer
    bucket = (composer.environment_bucket if composer else "") or "ENVIRONMENT_BUCKET"
    return (f"gcloud storage cat gs://{bucket.removeprefix('gs://').rstrip('/')}/logs/dag_id={req.dag_id}/"
            f"run_id={req.run_id or 'RUN_ID'}/task_id={req.task_id}/attempt={req.try_number or 1}.log")


def _names(names: list[str], total: int | None = None) -> str:
    if not names:
        return "none"
    shown = ", ".join(names[:15])
    more = (total or len(names)) - min(len(names), 15)
    return shown + (f" and {more} more" if more > 0 else "")
