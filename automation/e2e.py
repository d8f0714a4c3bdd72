"""`nox -s e2e`: run one DAG end to end through Airflow's REST API and check the output it declares.

The DAG convention: tag `project:NAME` and a DAG param `output`, the result file's path relative to the
project's data root. Locally that file is under the data mount's host folder; on cloud targets under
`data_root` (gs://).
"""

from __future__ import annotations

import hashlib
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from automation.airflow_api import AirflowApi
from automation.errors import UserError
from automation.runner import Runner, mask
from automation.settings import Target

FINISHED = {"success", "failed"}
# Node clocks (Minikube's VM, a bucket's servers) may run a little behind this machine's.
CLOCK_SKEW = 30


@dataclass
class Options:
    dag: str = "example1"
    timeout: int = 600
    url: str | None = None
    username: str | None = None
    password: str | None = None
    connect_timeout: int = 60
    parse_timeout: int = 180
    poll: float = 3.0


def e2e(runner: Runner, target: Target, opts: Options) -> int:
    if runner.dry_run:
        return _plan(runner, target, opts)
    with api_url(runner, target, opts) as url:
        api = AirflowApi(url, connect_timeout=opts.connect_timeout)
        try:
            return _run(runner, target, opts, api)
        finally:
            api.close()


def _plan(runner: Runner, target: Target, opts: Options) -> int:
    url = opts.url or "(the port-forward of `nox -s up`, or a temporary one)"
    runner.plan(f"log in to {url} as {opts.username or target.login.username}")
    runner.plan(f"unpause DAG {opts.dag}, trigger a run, wait up to {opts.timeout}s, check its declared output")
    return 0


# -- where the API is ------------------------------------------------------------------------------------------
@contextmanager
def api_url(runner: Runner, target: Target, opts: Options) -> Iterator[str]:
    """--url; else the port-forward `up` left running; else a temporary port-forward, closed afterwards."""
    if opts.url:
        yield opts.url
        return
    if target.provider == "composer":
        raise UserError("Cloud Composer's Airflow is not reached through a port-forward",
                        "pass --url with the environment's airflow_uri "
                        "(gcloud composer environments describe ENV --format='value(config.airflowUri)')")
    from automation import ui

    url = ui.current_url(target)
    if url and ui.answers(int(url.rsplit(":", 1)[1])):
        runner.ok(f"using the port-forward of `nox -s up`: {url}")
        yield url
        return
    with temporary_forward(runner, target) as url:
        yield url


@contextmanager
def temporary_forward(runner: Runner, target: Target) -> Iterator[str]:
    from automation import ui
    from automation.providers import Background, provider_for, state_dir

    provider = provider_for(runner, target)
    port = ui.pick_port(target.ui.port + 1, explicit=False)
    service = f"svc/{target.release}-{target.ui.service}"
    # Its own pid file: `up`'s port-forward (ui.forward) is not ours to stop.
    process = Background(state_dir(target) / "e2e-port-forward.pid")
    log = state_dir(target) / "e2e-port-forward.log"
    if runner.which("kubectl") is None:
        raise UserError("'kubectl' was not found on PATH, and no Airflow URL is known",
                        "install kubectl, run `nox -s up` (it opens the port-forward), or pass --url")
    from automation.kube import Unreachable

    state = provider.state()
    if isinstance(state, Unreachable):
        raise UserError(f"no Airflow API to check: no port-forward is running and the cluster is unreachable "
                        f"({state.why})", "start Airflow with `nox -s up`, or pass --url")
    with runner.step(f"temporary port-forward to {service} on {port}"):
        # The same restarting wrapper as `up`'s forward: one broken connection must not end the check.
        process.start(runner, [sys.executable, "-m", "automation.forward", *provider.kubectl_args(), "-n",
                               target.namespace, "port-forward", "--address", "127.0.0.1", service,
                               f"{port}:8080"], log)
    try:
        deadline = time.monotonic() + 30
        while not ui.answers(port):
            if time.monotonic() > deadline or process.pid() is None:
                lines = log.read_text().strip().splitlines() if log.is_file() else []
                tail = [x for x in lines if not x.startswith("port-forward exited")][-1:]
                raise UserError(f"port-forward to {service} in namespace {target.namespace} did not open port "
                                f"{port}{': ' + tail[0] if tail else ''}",
                                "start Airflow with `nox -s up`, or pass --url")
            time.sleep(0.5)
        yield f"http://localhost:{port}"
    finally:
        process.stop(runner)


# -- credentials -----------------------------------------------------------------------------------------------
def credentials(runner: Runner, target: Target, opts: Options) -> tuple[str, str]:
    username = opts.username or target.login.username
    password = opts.password or target.login.password
    if password:
        # --password is registered by the command; the target's fixed password is in git, not a secret, and
        # masking a word such as "admin" everywhere would hide the user name too.
        return username, password
    from automation.kube import Unreachable
    from automation.providers import provider_for
    from automation.secrets import decode, login_secret_name

    name = login_secret_name(target)
    state = provider_for(runner, target).state()
    if isinstance(state, Unreachable):
        raise UserError(f"target {target.name!r} has no fixed password and its Secret {name} cannot be read "
                        f"({state.why})", "pass --password")
    values = decode(state.get("Secret", name, target.namespace))
    password = values.get("password") or (next(iter(values.values())) if len(values) == 1 else "")
    if not password:
        raise UserError(f"Secret {name} in namespace {target.namespace} has no 'password' key",
                        "pass --password, or create the Secret with a 'password' key")
    return values.get("username") or username, password


# -- the run ---------------------------------------------------------------------------------------------------
def _run(runner: Runner, target: Target, opts: Options, api: AirflowApi) -> int:
    with runner.step(f"Airflow API at {api.url}"):
        runner.ok(f"Airflow {api.version()}")
        username, password = credentials(runner, target, opts)
        api.login(username, password)
        runner.ok(f"logged in as {username}")
    with runner.step(f"DAG {opts.dag}"):
        wait_parsed(runner, api, opts)
        api.set_paused(opts.dag, False)
        runner.ok("unpaused")
    details = api.dag_details(opts.dag)
    with runner.step(f"trigger {opts.dag}"):
        run = api.trigger(opts.dag)
        run_id = run["dag_run_id"]
        runner.ok(f"run {run_id}")
    with runner.step(f"wait for run {run_id} (timeout {opts.timeout}s)"):
        run, tasks = wait_run(runner, api, opts, run_id, watch=image_watch(runner, target, opts.dag, run_id))
    if run["state"] != "success":
        report_failure(runner, target, api, opts.dag, run_id, tasks)
        failed = [t["task_id"] for t in tasks if t.get("state") == "failed"] or ["(none: see the run in the UI)"]
        raise UserError(f"DAG {opts.dag} run {run_id} failed: failed task(s) {', '.join(failed)}",
                        "read the task log(s) above; fix, then run `nox -s e2e` again", exit_code=1)
    runner.ok(f"run {run_id} succeeded in {_duration(run)}")
    with runner.step("declared output"):
        check_output(runner, target, details, run)
    return 0


def wait_parsed(runner: Runner, api: AirflowApi, opts: Options) -> dict[str, Any]:
    """The DAG, once the dag-processor has serialized it; a DAG whose file fails to import is an error."""
    deadline = time.monotonic() + min(opts.parse_timeout, opts.timeout)
    said = False
    while True:
        dag = api.dag(opts.dag)
        if dag is not None:
            if dag.get("has_import_errors"):
                errors = _errors_for(api.import_errors(), dag)
                _print_import_errors(runner, errors)
                raise UserError(f"DAG {opts.dag}'s file {dag.get('relative_fileloc') or dag.get('fileloc')} "
                                "fails to import (stack trace above)",
                                "fix the file (`nox -s dags` shows the same error), then run again")
            return dag
        if time.monotonic() > deadline:
            break
        if not said:
            runner.say(f"    waiting for the dag-processor to parse {opts.dag} ...")
            said = True
        time.sleep(opts.poll)
    ids, total = api.dag_ids()
    errors = api.import_errors()
    _print_import_errors(runner, errors)
    known = ", ".join(ids[:20]) + (f" and {total - 20} more" if total > 20 else "") if ids else "none"
    broken = f"; {len(errors)} file(s) fail to import (above)" if errors else ""
    raise UserError(f"DAG {opts.dag!r} not found at {api.url} (DAGs: {known}{broken})",
                    "pass --dag with one of those" + (", or fix the import errors" if errors else ""))


def _errors_for(errors: list[dict[str, Any]], dag: dict[str, Any]) -> list[dict[str, Any]]:
    names = {dag.get("relative_fileloc"), dag.get("fileloc")} - {None}
    mine = [e for e in errors if e.get("filename") in names or any(str(n).endswith(str(e.get("filename")))
                                                                   for n in names)]
    return mine or errors


def _print_import_errors(runner: Runner, errors: list[dict[str, Any]]) -> None:
    for error in errors[:5]:
        runner.say(f"--- import error in {error.get('filename')}")
        for line in str(error.get("stack_trace", "")).strip().splitlines()[-15:]:
            runner.say(f"    {line}")


def wait_run(runner: Runner, api: AirflowApi, opts: Options, run_id: str,
             watch: Callable[[], None] | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    progress = Progress(runner)
    t0 = time.monotonic()
    deadline = t0 + opts.timeout
    while True:
        run = api.dag_run(opts.dag, run_id)
        tasks = api.task_instances(opts.dag, run_id)
        progress.show(time.monotonic() - t0, run.get("state") or "queued", tasks)
        if run.get("state") in FINISHED:
            progress.end()
            return run, tasks
        if watch is not None and any(t.get("state") == "running" for t in tasks):
            try:
                watch()
            except UserError:
                progress.end()
                raise
        if time.monotonic() > deadline:
            progress.end()
            states = ", ".join(f"{t['task_id']} {t.get('state') or 'none'}" for t in tasks) or "no task started"
            raise UserError(f"DAG {opts.dag} run {run_id} did not finish within {opts.timeout}s "
                            f"(run {run.get('state')}, left as it is; tasks: {states})",
                            "a task stuck in queued/scheduled means no pod started (see `nox -s status`); "
                            "otherwise raise --timeout")
        time.sleep(opts.poll)


class Progress:
    """One line for the run: rewritten in place on a terminal; in CI logs, a new line only when states change
    (plus one a minute, so a quiet log still shows it is alive)."""

    def __init__(self, runner: Runner):
        self.runner = runner
        self.tty = hasattr(runner.out, "isatty") and runner.out.isatty()
        self.last = ""
        self.last_printed = 0.0
        self.open = False

    def show(self, elapsed: float, run_state: str, tasks: list[dict[str, Any]]) -> None:
        summary = f"run {run_state}: " + (", ".join(f"{t['task_id']} {t.get('state') or 'none'}" for t in tasks)
                                          or "no task yet")
        line = mask(f"    [{elapsed:4.0f}s] {summary}")
        changed = summary != self.last
        if self.tty:
            if changed and self.open:
                self.runner.out.write("\n")
            self.runner.out.write("\r\033[K" + line)
            self.runner.out.flush()
            self.open = True
        elif changed or elapsed - self.last_printed >= 60:
            self.runner.say(line)
            self.last_printed = elapsed
        self.last = summary

    def end(self) -> None:
        if self.tty and self.open:
            self.runner.out.write("\n")
            self.runner.out.flush()
            self.open = False


# -- failure ---------------------------------------------------------------------------------------------------
def report_failure(runner: Runner, target: Target, api: AirflowApi, dag_id: str, run_id: str,
                   tasks: list[dict[str, Any]], max_lines: int = 120) -> None:
    failed = [t for t in tasks if t.get("state") == "failed"]
    for task in failed:
        try_number = int(task.get("try_number") or 1)
        lines = api.task_log(dag_id, run_id, task["task_id"], try_number, int(task.get("map_index", -1)))
        runner.say(f"--- log of task {task['task_id']} (try {try_number}), from the REST API")
        if len(lines) > max_lines:
            runner.say(f"    ... {len(lines) - max_lines} earlier lines left out")
        for line in lines[-max_lines:]:
            runner.say(f"    {line}")
    skipped = [t["task_id"] for t in tasks if t.get("state") in ("upstream_failed", "skipped")]
    if skipped:
        runner.say(f"--- not run because of the failure: {', '.join(skipped)}")
    pod_events(runner, target, dag_id, run_id, [t["task_id"] for t in failed])


IMAGE_ERRORS = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")


def image_watch(runner: Runner, target: Target, dag_id: str, run_id: str) -> Callable[[], None] | None:
    """A check, made while tasks run, that fails at once when a task pod's image cannot be pulled: the
    operator would otherwise wait out its whole start-up timeout."""
    if target.provider == "composer":
        return None
    from automation.kube import LiveCluster
    from automation.providers import provider_for

    state = provider_for(runner, target).state()
    if not isinstance(state, LiveCluster):
        return None
    selector = f"dag_id={safe_label(dag_id)},run_id={safe_label(run_id)}"

    def check() -> None:
        for pod in state.list("Pod", target.namespace, selector=selector):
            for container in (pod.get("status") or {}).get("containerStatuses") or []:
                waiting = (container.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in IMAGE_ERRORS:
                    labels = pod["metadata"].get("labels") or {}
                    runner.say(f"--- pod {pod['metadata']['name']}: {waiting['reason']}: {waiting.get('message')}")
                    raise UserError(
                        f"task {labels.get('task_id', '?')} cannot start: image {container.get('image')} is not "
                        f"available to the cluster ({waiting['reason']})",
                        f"build and load it: nox -s images -- --target {target.name}", exit_code=1)

    return check


def safe_label(value: str) -> str:
    """The label value the KubernetesPodOperator and executor give a task's pods (make_safe_label_value)."""
    safe = re.sub(r"^[^a-z0-9A-Z]*|[^a-zA-Z0-9_\-\.]|[^a-z0-9A-Z]*$", "", value)
    if len(safe) > 63 or value != safe:
        digest = hashlib.md5(value.encode()).hexdigest()[:9]
        safe = safe[: 63 - len(digest) - 1] + "-" + digest
    return safe


def pod_events(runner: Runner, target: Target, dag_id: str, run_id: str, task_ids: list[str]) -> None:
    """Events of the failed tasks' pods, when a cluster answers; nothing (quietly) otherwise."""
    if not task_ids or target.provider == "composer":
        return
    try:
        from automation.kube import LiveCluster
        from automation.providers import provider_for

        state = provider_for(runner, target).state()
        if not isinstance(state, LiveCluster):
            return
        events = state.list("Event", target.namespace)
        for task_id in task_ids:
            pods = state.list("Pod", target.namespace,
                              selector=f"dag_id={safe_label(dag_id)},task_id={safe_label(task_id)}")
            in_run = [p for p in pods if (p["metadata"].get("labels") or {}).get("run_id") == safe_label(run_id)]
            names = {p["metadata"]["name"] for p in (in_run or pods)}
            for pod in in_run or pods:
                status = pod.get("status") or {}
                runner.say(f"--- pod {pod['metadata']['name']} (task {task_id}): {status.get('phase')}")
                for container in status.get("containerStatuses") or []:
                    for kind, detail in (container.get("state") or {}).items():
                        if kind != "running" and detail:
                            runner.say(f"    {container['name']}: {kind} {detail.get('reason') or ''} "
                                       f"{detail.get('message') or ''}".rstrip())
            if not names:
                # Finished pods are usually deleted; their events stay for about an hour, under the pod's name.
                prefix = safe_label(task_id).lower().replace("_", "-")
                names = {e["involvedObject"]["name"] for e in events
                         if (e.get("involvedObject") or {}).get("kind") == "Pod"
                         and str(e["involvedObject"].get("name", "")).startswith(prefix)}
            for event in sorted((e for e in events if (e.get("involvedObject") or {}).get("name") in names),
                                key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or "")):
                obj = event["involvedObject"]["name"]
                runner.say(f"    event {obj}: {event.get('type')} {event.get('reason')}: {event.get('message')}")
    except Exception as exc:  # diagnostics must never hide the failure they explain
        if runner.verbose:
            runner.say(f"    (no pod events: {type(exc).__name__}: {exc})")


# -- output ----------------------------------------------------------------------------------------------------
def declared_output(details: dict[str, Any]) -> tuple[str, str] | None:
    """(project, output) from the DAG's tag project:NAME and param output; None when it declares no output."""
    params = details.get("params") or {}
    param = params.get("output")
    output = param.get("value") if isinstance(param, dict) and "value" in param else param
    if not output:
        return None
    tags = [t.get("name") if isinstance(t, dict) else t for t in details.get("tags") or []]
    projects = [str(t).split(":", 1)[1] for t in tags if str(t).startswith("project:")]
    if not projects:
        raise UserError(f"DAG {details.get('dag_id')} declares output {output!r} but no tag 'project:NAME'",
                        "add tags=['project:NAME'] to the DAG so its output can be found")
    return projects[0], str(output).lstrip("/")


def output_location(target: Target, project: str, output: str) -> str:
    if target.is_local_cluster:
        if target.mounts is None:
            raise UserError(f"target {target.name!r} has no mounts.data to find outputs in")
        return str(target.path(target.mounts.data.host) / project / output)
    return f"{target.data_root.rstrip('/')}/{project}/{output}"


def check_output(runner: Runner, target: Target, details: dict[str, Any], run: dict[str, Any],
                 head: int = 10) -> None:
    declared = declared_output(details)
    if declared is None:
        runner.ok(f"DAG {details.get('dag_id')} declares no 'output' param: success, no output check")
        return
    project, output = declared
    where = output_location(target, project, output)
    size, mtime, first = _stat_and_head(where, head)
    started = _parse_time(run.get("start_date"))
    if size is None:
        raise UserError(f"the run succeeded but its declared output {where} does not exist",
                        f"the DAG's param 'output' ({output}) must match the file the tasks write", exit_code=1)
    if size == 0:
        raise UserError(f"the declared output {where} is empty", "check the task that writes it", exit_code=1)
    if started and mtime is not None and mtime < started - CLOCK_SKEW:
        when = datetime.fromtimestamp(mtime).isoformat(timespec="seconds")
        raise UserError(f"the declared output {where} was not written by this run (last changed {when}, "
                        "before the run started)", "check the task that writes it", exit_code=1)
    runner.ok(f"output {where}: {size} bytes, written by this run")
    for line in first:
        runner.say(f"    | {line}")


def _stat_and_head(where: str, head: int) -> tuple[int | None, float | None, list[str]]:
    if "://" not in where:
        path = Path(where)
        if not path.is_file():
            return None, None, []
        stat = path.stat()
        with path.open("rb") as handle:
            data = handle.read(64 * 1024)
        return stat.st_size, stat.st_mtime, _lines(data, head)
    try:
        from upath import UPath
    except ImportError:
        raise UserError(f"reading {where} needs universal-pathlib and gcsfs",
                        "pip install universal-pathlib gcsfs") from None
    upath = UPath(where)
    try:
        if not upath.is_file():
            return None, None, []
        info = upath.fs.info(upath.path)
        with upath.open("rb") as handle:
            data = handle.read(64 * 1024)
    except ImportError as exc:
        raise UserError(f"reading {where} needs {exc.name or 'gcsfs'}", "pip install gcsfs") from None
    except PermissionError as exc:
        raise UserError(f"cannot read {where}: {exc}", "gcloud auth application-default login") from None
    updated = info.get("mtime") or info.get("updated") or info.get("LastModified")
    mtime = _parse_time(updated) if isinstance(updated, str) else (
        updated.timestamp() if isinstance(updated, datetime) else None)
    return int(info.get("size") or 0), mtime, _lines(data, head)


def _lines(data: bytes, head: int) -> list[str]:
    if b"\0" in data[:1024]:
        return [f"(binary, first {min(len(data), 1024)} bytes not shown)"]
    return data.decode(errors="replace").splitlines()[:head]


def _parse_time(value: Any) -> float | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _duration(run: dict[str, Any]) -> str:
    start, end = _parse_time(run.get("start_date")), _parse_time(run.get("end_date"))
    return f"{end - start:.0f}s" if start and end else "?"
