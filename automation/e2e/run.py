"""`nox -s e2e`: run one DAG end to end through Airflow's REST API and check the output it declares.

The DAG convention: tag `project:NAME` and a DAG param `output`, the result file's path relative to the
project's data root. Locally that file is under the data mount's host folder; on cloud targets under
`data_root` (gs://).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from automation.airflow.client import AirflowApi
from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.e2e.diagnose import image_watch, report_failure
from automation.e2e.output import check_output, duration
from automation.e2e.progress import Progress
from automation.providers import Provider, provider_for
from automation.providers.airflow_endpoint import api_url, credentials
from automation.settings.model import Target

FINISHED = {"success", "failed"}


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
    provider = provider_for(runner, target)
    with api_url(runner, provider, opts.url) as url:
        api = AirflowApi(url, connect_timeout=opts.connect_timeout)
        try:
            return _run(runner, provider, opts, api)
        finally:
            api.close()


def _plan(runner: Runner, target: Target, opts: Options) -> int:
    if provider_for(runner, target).deployer.ui_forward is None and not opts.password:
        runner.plan(f"sign in to {opts.url or 'the Airflow URL the environment serves (airflowUri)'} with your "
                    "Google access token (gcloud auth print-access-token)")
    else:
        url = opts.url or "(the port-forward of `nox -s up`, or a temporary one)"
        runner.plan(f"log in to {url} as {opts.username or target.login.username}")
    runner.plan(f"unpause DAG {opts.dag}, trigger a run, wait up to {opts.timeout}s, check its declared output")
    return 0


# -- the run ---------------------------------------------------------------------------------------------------
def _run(runner: Runner, provider: Provider, opts: Options, api: AirflowApi) -> int:
    with runner.step(f"Airflow API at {api.url}"):
        runner.ok(f"Airflow {api.version()}")
        login = credentials(provider, opts.username, opts.password)
        login.sign_in(api)
        runner.ok(f"logged in as {login.who}")
    with runner.step(f"DAG {opts.dag}"):
        wait_parsed(runner, api, opts)
        api.set_paused(opts.dag, False)
        runner.ok("unpaused")
    details = api.dag_details(opts.dag)
    provider.before_run()
    with runner.step(f"trigger {opts.dag}"):
        run = api.trigger(opts.dag)
        run_id = run["dag_run_id"]
        runner.ok(f"run {run_id}")
    with runner.step(f"wait for run {run_id} (timeout {opts.timeout}s)"):
        run, tasks = wait_run(runner, api, opts, run_id, watch=image_watch(runner, provider, opts.dag, run_id))
    if run["state"] != "success":
        report_failure(runner, provider, api, opts.dag, run_id, tasks)
        failed = [t["task_id"] for t in tasks if t.get("state") == "failed"] or ["(none: see the run in the UI)"]
        again = provider.target.command("e2e", "--dag", opts.dag)
        raise UserError(f"DAG {opts.dag} run {run_id} failed: failed task(s) {', '.join(failed)}",
                        f"read the task log(s) above; fix, then run `{again}` again", exit_code=1)
    runner.ok(f"run {run_id} succeeded in {duration(run)}")
    with runner.step("declared output"), provider.storage():
        check_output(runner, provider, details, run)
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
