"""DAG integrity gate: every DAG file loads with Airflow's own DagBag, without import errors or cycles, and
quickly (the DAG processor re-parses every file continuously: slow top-level code slows every DAG).

Parsing runs in a child process with a throw-away AIRFLOW_HOME, so ~/airflow is never created or read, and
so Airflow is imported only there (this module is imported by `up` in environments without Airflow).
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from automation.core.errors import UserError
from automation.core.paths import DAGS_FOLDER, REPO_ROOT
from automation.core.process import Process
from automation.core.runner import Runner

MAX_PARSE_SECONDS = 2.0
MARKER = "@@dagcheck@@"
PODS_FLAG = "AUTOMATION_DAGCHECK_PODS"
# Imported once per DAG processor process and shared by every DAG file: loaded before timing, so a file's
# parse time is its own work and not whichever file happens to be parsed first.
SHARED_IMPORTS = ("airflow.sdk", "airflow.providers.cncf.kubernetes.operators.pod")


@dataclass
class FileReport:
    file: str
    seconds: float
    dags: list[str]
    tasks: int


@dataclass
class Report:
    files: list[FileReport] = field(default_factory=list)
    import_errors: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    dags: dict[str, list[str]] = field(default_factory=dict)
    warmup_seconds: float = 0.0
    # "dag.task" -> the pod its KubernetesPodOperator builds (camelCase, as the API takes it), when asked for.
    pods: dict[str, dict[str, Any]] = field(default_factory=dict)
    # "dag.task" -> how its operator reaches the cluster ({"config_file": ..., "kubernetes_conn_id": ...}), with pods.
    clients: dict[str, dict[str, str]] = field(default_factory=dict)
    # "dag.task" -> why its pod could not be built (by build_pod_request_obj or the provider's dry_run()), with pods.
    pod_errors: dict[str, str] = field(default_factory=dict)
    # What parsed: {"airflow": "3.3.2", "cncf_kubernetes": "10.22.0"}.
    versions: dict[str, str] = field(default_factory=dict)
    # "module.Class.method" -> why: the DAG folder's overrides of Airflow's methods that cannot take its arguments.
    overrides: dict[str, str] = field(default_factory=dict)


def airflow_env(home: Path, dags_folder: Path) -> dict[str, str]:
    """Environment for an Airflow that touches nothing outside `home`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    pythonpath = [str(dags_folder), str(REPO_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join(pythonpath),
    })
    return env


def parse(dags_folder: Path = DAGS_FOLDER, timeout: float = 600, task_env: dict[str, str] | None = None,
          pods: bool = False, python: Path | None = None) -> Report:
    """Load dags_folder with the real DagBag in a child process; what it found, per file.

    `task_env` is a target's AUTOMATION_* facts (the DAG helpers read them); `pods` also builds every
    KubernetesPodOperator task's pod (the parity check's input). `python` parses with another environment's
    interpreter (another Airflow: the upgrade check) instead of this one's."""
    if python is None and importlib.util.find_spec("airflow") is None:
        raise UserError("Airflow is not installed in this Python environment, the DAG check needs it",
                        "run it through nox: `nox -s dags`")
    if not dags_folder.is_dir():
        raise UserError(f"DAG folder {dags_folder} does not exist", "run from a clone of this repository")
    with tempfile.TemporaryDirectory(prefix="dagcheck-") as home:
        worker = Process([str(python or sys.executable), "-m", "automation.dags.gate", "--worker", str(dags_folder)],
                         timeout=timeout, cwd=home,
                         env={**airflow_env(Path(home), dags_folder), **(task_env or {}),
                              **({PODS_FLAG: "1"} if pods else {})},
                         fix="look for top-level code that blocks (network, database) in the DAG files")
        proc = worker.run(sys.stderr, quiet=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(MARKER)]
    if proc.exit_code != 0 or not lines:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UserError(f"the DAG parser process failed (exit {proc.exit_code}): {last}",
                        "rerun with -v, or run `.nox/dags/bin/python -m automation.dags.gate --worker dags` to see "
                        "the trace")
    data = json.loads(lines[-1][len(MARKER):])
    return Report(files=[FileReport(**f) for f in data["files"]], import_errors=data["import_errors"],
                  warnings=data["warnings"], dags=data["dags"], warmup_seconds=data["warmup_seconds"],
                  pods=data.get("pods", {}),
                  clients=data.get("clients", {}), pod_errors=data.get("pod_errors", {}),
                  versions=data.get("versions", {}), overrides=data.get("overrides", {}))


def check(report: Report, max_seconds: float = MAX_PARSE_SECONDS) -> list[str]:
    """Every problem found, one line each (empty: the gate passes)."""
    problems = [f"{file}: {error.strip().splitlines()[-1] if error.strip() else 'import error'}"
                for file, error in sorted(report.import_errors.items())]
    problems += [f"{f.file}: parsing took {f.seconds:.2f}s (limit {max_seconds:g}s): move heavy work out of "
                 "the top level (into the task)" for f in report.files if f.seconds > max_seconds]
    if not report.dags and not report.import_errors:
        problems.append("no DAG found (a DAG file must contain the words 'airflow' and 'dag')")
    problems += [f"{where}: {why} -- accept them (or *args, **kwargs) and pass them on"
                 for where, why in report.overrides.items()]
    return problems


def gate(runner: Runner, dags_folder: Path = DAGS_FOLDER, max_seconds: float = MAX_PARSE_SECONDS,
         report: Report | None = None) -> Report:
    """The gate `up` and `nox -s dags` run: prints each file's parse time, raises UserError on any problem."""
    report = report or parse(dags_folder)
    runner.say(f"    shared imports (airflow.sdk, KubernetesPodOperator) loaded in {report.warmup_seconds:.2f}s")
    for f in sorted(report.files, key=lambda f: f.file):
        runner.say(f"    {f.seconds:6.3f}s  {f.file}  ({', '.join(f.dags) or 'no DAG'}; {f.tasks} tasks)")
    for warning in report.warnings:
        runner.say(f"    warning: {warning}")
    problems = check(report, max_seconds)
    if problems:
        more = f" (and {len(problems) - 1} more, listed above)" if len(problems) > 1 else ""
        for problem in problems:
            runner.say(f"    problem: {problem}")
        raise UserError(f"DAG integrity: {problems[0]}{more}", "fix the DAG file, then run `nox -s dags`")
    total = sum(len(d) for d in report.dags.values())
    runner.ok(f"{total} DAGs in {len(report.files)} files: no import errors, no cycles, "
              f"each file parsed in <= {max_seconds:g}s")
    return report


def _worker(dags_folder: str) -> None:
    """Child process: the DagBag's findings as one JSON line on stdout."""
    import importlib
    import logging
    import warnings
    from importlib.metadata import version

    from automation.dags import overrides

    t0 = time.perf_counter()
    for module in SHARED_IMPORTS:
        importlib.import_module(module)
    from airflow.dag_processing.dagbag import DagBag

    warmup = time.perf_counter() - t0
    logging.disable(logging.WARNING)
    # Python hides DeprecationWarning outside __main__: the DagBag records a file's warnings through the filters
    # in force, and a deprecation is what the next Airflow turns into an import error.
    warnings.simplefilter("default", DeprecationWarning)
    warnings.simplefilter("default", PendingDeprecationWarning)
    # DagBag already runs check_cycle on every DAG: a cycle is an import error of its file. No include_examples:
    # Airflow 3.3 dropped the argument; AIRFLOW__CORE__LOAD_EXAMPLES=False (airflow_env) says the same on both.
    bag = DagBag(dag_folder=dags_folder, safe_mode=True)
    root = Path(dags_folder)

    def rel(path: str) -> str:
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            return path

    dags: dict[str, list[str]] = {}
    for dag_id, dag in bag.dags.items():
        dags.setdefault(rel(dag.fileloc), []).append(dag_id)
    # FileLoadStat.file is relative to the folder (with a leading slash) in Airflow 3.
    files = [{"file": rel(str(root / s.file.lstrip("/"))), "seconds": s.duration.total_seconds(),
              "dags": sorted(dags.get(rel(str(root / s.file.lstrip("/"))), [])), "tasks": s.task_num}
             for s in bag.dagbag_stats]
    found_warnings = [f"{rel(file)}: {w}" for file, ws in getattr(bag, "captured_warnings", {}).items() for w in ws]
    result = {"files": files, "import_errors": {rel(k): v for k, v in bag.import_errors.items()},
              "warnings": found_warnings, "dags": dags, "warmup_seconds": warmup,
              "versions": {"airflow": version("apache-airflow-core"),
                           "cncf_kubernetes": version("apache-airflow-providers-cncf-kubernetes")},
              "overrides": overrides.incompatible(root)}
    pod_errors: dict[str, str] = {}
    pods: dict[str, Any] = {}
    if os.environ.get(PODS_FLAG) == "1":
        from automation.providers.composer_pod_rules import build_pod, render_dry_run

        pod_tasks = {f"{dag_id}.{task.task_id}": task for dag_id, dag in sorted(bag.dags.items())
                     for task in dag.tasks if hasattr(task, "build_pod_request_obj")}
        for key, task in pod_tasks.items():
            # Both ways the provider builds a pod: the one a run takes, then its own dry_run() (which passes
            # arguments of its own to build_pod_request_obj: an override must accept them).
            try:
                pod = build_pod(task)
                render_dry_run(task)
                pods[key] = pod
            except Exception as exc:
                pod_errors[key] = f"{type(exc).__name__}: {exc}"
        result["pods"], result["pod_errors"] = pods, pod_errors
        result["clients"] = {key: {"config_file": str(getattr(task, "config_file", None) or ""),
                                   "kubernetes_conn_id": str(getattr(task, "kubernetes_conn_id", None) or "")}
                             for key, task in pod_tasks.items()}
    print(MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        _worker(sys.argv[2])
    else:
        raise SystemExit("usage: python -m automation.dags.gate --worker DAGS_FOLDER (or `nox -s dags`)")
