"""The pod a task would get: the DAG loaded with Airflow's DagBag, templates rendered for a manual run, the
pod built by the provider's own `build_pod_request_obj()`; cached, since Airflow takes seconds to import."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from automation.core.errors import UserError
from automation.core.paths import STATE_ROOT
from automation.settings.files import settings_files
from automation.settings.model import Target
from automation.task.docker_run import Folders
from automation.task.xcom import LocalXComs, stored_files


# -- loading the DAG with Airflow ----------------------------------------------------------------------------
def _prepare_airflow(dags: Path) -> None:
    """Airflow reads its settings at import: point it at these DAGs and a throw-away home, never a database."""
    home = STATE_ROOT / "task-airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
    os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")


def load_task(dags: Path, dag_id: str, task_id: str) -> Any:
    _prepare_airflow(dags)
    try:
        from airflow.dag_processing.dagbag import DagBag
        from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    except ImportError as exc:
        raise UserError(f"Airflow with the cncf.kubernetes provider is not importable here ({exc})",
                        "run through `nox -s task -- DAG_ID TASK_ID`, which installs it") from None
    import sys

    if str(dags) not in sys.path:
        sys.path.insert(0, str(dags))
    # No include_examples: Airflow 3.3 dropped it; LOAD_EXAMPLES=False (above) says the same on every version.
    bag = DagBag(dag_folder=str(dags))
    dag = bag.dags.get(dag_id)
    if dag is None:
        errors = [f"{Path(f).name}: {str(e).strip().splitlines()[-1]}" for f, e in bag.import_errors.items()]
        hint = f"import errors: {errors[0]}" if errors else f"known DAGs: {', '.join(sorted(bag.dags)) or 'none'}"
        raise UserError(f"no DAG {dag_id!r} in {dags} ({hint})", "check the DAG id, or run nox -s dags")
    if task_id not in dag.task_dict:
        raise UserError(f"DAG {dag_id!r} has no task {task_id!r}",
                        f"use one of: {', '.join(sorted(dag.task_dict))}")
    task = dag.task_dict[task_id]
    if not isinstance(task, KubernetesPodOperator):
        raise UserError(f"task {dag_id}.{task_id} is a {type(task).__name__}, not a KubernetesPodOperator",
                        "`task` runs pod tasks only")
    return dag, task


def render_pod(dag: Any, task: Any, target: Target, run_id: str = "manual__local") -> tuple[Any, list[str]]:
    """The pod the scheduler would create for a manual run now: templates rendered, then the provider's pod."""
    notes: list[str] = []
    now = datetime.now(UTC)
    params: dict[str, Any] = {}
    for source in (getattr(dag, "params", None), getattr(task, "params", None)):  # the task's win, as in Airflow
        params.update({k: source[k] for k in source} if source else {})
    context: dict[str, Any] = {
        "dag": dag, "task": task, "params": params, "run_id": run_id,
        "logical_date": now, "data_interval_start": now, "data_interval_end": now,
        "ds": now.strftime("%Y-%m-%d"), "ds_nodash": now.strftime("%Y%m%d"), "ts": now.isoformat(),
        "ts_nodash": now.strftime("%Y%m%dT%H%M%S"), "var": {"value": {}, "json": {}}, "conn": {},
        "dag_run": None, "test_mode": True,
    }
    # Only what the operator reads to label the pod, and the XComs of upstream tasks run locally by `task`:
    # there is no task instance without a database.
    ti = SimpleNamespace(dag_id=dag.dag_id, task_id=task.task_id, run_id=context["run_id"], map_index=-1,
                         try_number=1, xcom_pull=LocalXComs(dag.dag_id).xcom_pull)
    context["ti"] = context["task_instance"] = ti
    # Airflow logs a failed template with its traceback; the one-line error below says the same.
    render_log = logging.getLogger("airflow.sdk.definitions._internal.abstractoperator")
    render_log.disabled = True
    try:
        task.render_template_fields(context)
    except Exception as exc:
        raise UserError(f"rendering the templates of {task.task_id} failed: {type(exc).__name__}: {exc}",
                        "`task` provides ds, ts, logical_date, run_id, params and ti.xcom_pull of tasks it ran; "
                        "others need the cluster") from None
    finally:
        render_log.disabled = False
    if not task.namespace:
        task.namespace = target.namespace
    # No cluster here: the provider asks its hook only for the namespace, whether it runs in a cluster and (with
    # do_xcom_push) the XCom sidecar's image, resources and (provider 10.2x) security context, the connection's or
    # its defaults.
    task.__dict__["hook"] = SimpleNamespace(is_in_cluster=False, get_namespace=lambda: target.namespace,
                                            get_xcom_sidecar_container_image=lambda: None,
                                            get_xcom_sidecar_container_resources=lambda: None,
                                            get_xcom_sidecar_container_security_context=lambda: None)
    from kubernetes.client import ApiClient

    pod = task.build_pod_request_obj(context)
    return ApiClient().sanitize_for_serialization(pod), notes


# -- the pod cache: Airflow and the Kubernetes clients take seconds to import, the inner loop is run often -----
CACHE_DIR = STATE_ROOT / "task-pods"


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def cache_context(folders: Folders, target: Target, dag_id: str, task_id: str, run_id: str) -> dict[str, Any]:
    """What the pod depends on besides the files the DAG imported: a change to any of it means a new parse.

    Every file under dags/ that is not Python (images.json, configuration a DAG may read) counts, and so does
    the list of Python files (a new DAG file may define the same DAG id); scripts run inside the pod do not.
    """
    files = sorted(p for p in folders.dags.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return {
        "dag": dag_id, "task": task_id, "run_id": run_id, "day": datetime.now(UTC).strftime("%Y-%m-%d"),
        "dags": str(folders.dags), "target": target.name,
        "python_files": [str(p.relative_to(folders.dags)) for p in files if p.suffix == ".py"],
        "data_files": {str(p.relative_to(folders.dags)): _digest(p) for p in files if p.suffix != ".py"},
        "settings": {str(p): _digest(p) for p in settings_files()},
        # A task's templates may pull the XCom of an upstream task run locally before.
        "xcoms": {p.name: _digest(p) for p in stored_files(dag_id)},
    }


def _cache_path(dag_id: str, task_id: str) -> Path:
    return CACHE_DIR / f"{dag_id}.{task_id}.json"


def cached_pod(key: dict[str, Any], dag_id: str, task_id: str) -> tuple[dict[str, Any], list[str]] | None:
    try:
        entry = json.loads(_cache_path(dag_id, task_id).read_text())
    except (OSError, ValueError):
        return None
    if entry.get("key") != key:
        return None
    if any(_digest(Path(path)) != digest for path, digest in entry.get("imported", {}).items()):
        return None
    return entry["pod"], entry.get("notes", [])


def store_pod(key: dict[str, Any], dag_id: str, task_id: str, dags: Path, pod: dict[str, Any],
              notes: list[str]) -> None:
    import sys

    imported = {}
    for module in list(sys.modules.values()):
        source = getattr(module, "__file__", None)
        if source and Path(source).resolve().is_relative_to(dags):
            imported[str(Path(source).resolve())] = _digest(Path(source))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    _cache_path(dag_id, task_id).write_text(json.dumps(
        {"key": key, "imported": imported, "pod": pod, "notes": notes}, indent=1, sort_keys=True))
