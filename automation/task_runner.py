"""`task DAG_ID TASK_ID`: run one KubernetesPodOperator task's pod locally with `docker run` (the inner loop).

The pod comes from the provider's own `build_pod_request_obj()`, so what runs here is what the cluster would
run: same image, command, arguments, environment (the project's ConfigMap and Secret read from
k8s/PROJECT/*.env), user, and the DAG and data claims bound to this repository's dags/ and data/ folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from automation.desired import DAGS_CLAIM, DATA_CLAIM
from automation.errors import UserError
from automation.runner import Runner
from automation.secrets import project_files
from automation.settings import REPO_ROOT, Target

XCOM_SIDECAR = "airflow-xcom-sidecar"


def _unsupported(what: str) -> UserError:
    return UserError(f"the pod uses {what}, which `task` cannot run locally",
                     "run this task on the cluster (nox -s e2e), or keep the pod to one container, "
                     "env/envFrom and the airflow-dags / airflow-data claims")


@dataclass
class DockerRun:
    """A pod translated to `docker run`; `env` holds plain values, `secret_env` those passed out of sight."""

    image: str
    entrypoint: str | None = None
    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, str] = field(default_factory=dict)
    mounts: list[str] = field(default_factory=list)
    user: str | None = None
    workdir: str | None = None
    notes: list[str] = field(default_factory=list)

    def command(self) -> list[str]:
        cmd = ["docker", "run", "--rm", "--pull", "never"]
        if self.user:
            cmd += ["--user", self.user]
        if self.workdir:
            cmd += ["--workdir", self.workdir]
        for mount in self.mounts:
            cmd += ["--mount", mount]
        for key in sorted(set(self.env) | set(self.secret_env)):
            # Secret values travel in this process's environment (`-e KEY`), never on a command line.
            cmd += ["--env", key if key in self.secret_env else f"{key}={self.env[key]}"]
        if self.entrypoint is not None:
            cmd += ["--entrypoint", self.entrypoint]
        return [*cmd, self.image, *self.args]


@dataclass
class Folders:
    dags: Path
    data: Path


def translate(pod: dict[str, Any], target: Target, folders: Folders) -> DockerRun:
    """The pod (its API form, as sent to Kubernetes) as `docker run`, or a one-line error naming the first
    feature that cannot run locally."""
    spec = pod.get("spec") or {}
    if spec.get("initContainers"):
        raise _unsupported(f"init containers ({', '.join(c['name'] for c in spec['initContainers'])})")
    containers = [c for c in spec.get("containers") or [] if c.get("name") != XCOM_SIDECAR]
    if len(containers) != 1:
        raise _unsupported(f"sidecar containers ({', '.join(c['name'] for c in containers[1:])})")
    container = containers[0]
    run = DockerRun(image=container["image"])
    command = container.get("command") or []
    if command:
        run.entrypoint = command[0]
    run.args = [*command[1:], *(container.get("args") or [])]
    run.workdir = container.get("workingDir")
    _environment(run, container, target)
    run.user = _user(spec.get("securityContext"), container.get("securityContext"))
    _volumes(run, spec, container, folders)
    return run


def _environment(run: DockerRun, container: dict[str, Any], target: Target) -> None:
    # Kubernetes order: envFrom sources in turn, then env entries, each later one winning.
    def config(name: str) -> dict[str, str]:
        values = project_files(name, target).config_values(target.name)
        if values is None:
            raise UserError(f"the pod reads ConfigMap {name!r} but {target.projects_dir}/{name}/config.env "
                            "does not exist", f"create it (one folder per project under {target.projects_dir}/)")
        return values

    def secret(name: str) -> dict[str, str]:
        values = project_files(name, target).secret_values(target.name)  # registers every value as secret
        if values is None:
            raise UserError(f"the pod reads Secret {name!r} but {target.projects_dir}/{name}/secret.env "
                            "does not exist", f"create it from {target.projects_dir}/{name}/secret.env.example")
        return values

    def put(key: str, value: str, is_secret: bool) -> None:
        run.env.pop(key, None)
        run.secret_env.pop(key, None)
        (run.secret_env if is_secret else run.env)[key] = value

    for source in container.get("envFrom") or []:
        prefix = source.get("prefix") or ""
        if source.get("configMapRef"):
            for key, value in config(source["configMapRef"]["name"]).items():
                put(prefix + key, value, False)
        elif source.get("secretRef"):
            for key, value in secret(source["secretRef"]["name"]).items():
                put(prefix + key, value, True)
    for var in container.get("env") or []:
        ref_from = var.get("valueFrom")
        if not ref_from:
            put(var["name"], var.get("value") or "", False)
        elif ref_from.get("configMapKeyRef"):
            ref = ref_from["configMapKeyRef"]
            put(var["name"], _key(config(ref["name"]), ref, "ConfigMap"), False)
        elif ref_from.get("secretKeyRef"):
            ref = ref_from["secretKeyRef"]
            put(var["name"], _key(secret(ref["name"]), ref, "Secret"), True)
        else:
            raise _unsupported(f"env {var['name']} from a field or resource reference")


def _key(values: dict[str, str], ref: dict[str, Any], kind: str) -> str:
    if ref["key"] not in values:
        if ref.get("optional"):
            return ""
        raise UserError(f"{kind} {ref['name']!r} has no key {ref['key']!r}", f"add it to the project's {kind} file")
    return values[ref["key"]]


def _volumes(run: DockerRun, spec: dict[str, Any], container: dict[str, Any], folders: Folders) -> None:
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        name, path = mount["name"], mount["mountPath"]
        volume = volumes.get(name)
        if volume is None:
            raise UserError(f"volume mount {name!r} names no volume of the pod", "fix the DAG's volumes")
        if "emptyDir" in volume:
            run.mounts.append(f"type=tmpfs,destination={path},tmpfs-mode=1777")
            continue
        claim = volume.get("persistentVolumeClaim")
        if claim is None:
            kind = next((k for k in volume if k != "name"), "unknown")
            raise _unsupported(f"volume {name!r} of type {kind}")
        if claim["claimName"] == DAGS_CLAIM:
            root, read_only = folders.dags, True  # the cluster mounts DAGs read-only for every pod
        elif claim["claimName"] == DATA_CLAIM:
            root, read_only = folders.data, bool(mount.get("readOnly") or claim.get("readOnly"))
        else:
            raise _unsupported(f"claim {claim['claimName']!r} (only {DAGS_CLAIM} and {DATA_CLAIM} map to folders)")
        source = (root / mount["subPath"]) if mount.get("subPath") else root
        if not source.is_dir():
            if root is folders.data and not read_only:
                source.mkdir(parents=True, exist_ok=True)
            else:
                raise UserError(f"{source} does not exist (mounted at {path})",
                                "create the folder or fix the DAG's subPath")
        if not read_only and not _writable(source, run.user):
            run.notes.append(f"{source} is not writable by the task's user {run.user or 'of the image'}: "
                             f"fix with `chmod -R a+rwX {source}` (or `chown -R 50000 {source}`)")
        spec_text = f"type=bind,source={source.resolve()},destination={path}"
        run.mounts.append(spec_text + (",readonly" if read_only else ""))


def _writable(folder: Path, user: str | None) -> bool:
    # Same test as the kernel for a bind mount: the owner, group 0 (the image's gid) or anyone may write.
    uid, _, gid = (user or "50000:0").partition(":")
    info = folder.stat()
    return bool(uid == "0" or (info.st_uid == int(uid) and info.st_mode & stat.S_IWUSR)
                or (info.st_gid == int(gid or 0) and info.st_mode & stat.S_IWGRP) or info.st_mode & stat.S_IWOTH)


def _user(pod_ctx: dict[str, Any] | None, container_ctx: dict[str, Any] | None) -> str | None:
    uid = gid = None
    for ctx in (pod_ctx, container_ctx):  # the container's settings override the pod's
        uid = (ctx or {}).get("runAsUser", uid)
        gid = (ctx or {}).get("runAsGroup", gid)
    if uid is None:
        return None
    return f"{uid}:{gid if gid is not None else 0}"


# -- loading the DAG with Airflow ----------------------------------------------------------------------------
def _prepare_airflow(dags: Path) -> None:
    """Airflow reads its settings at import: point it at these DAGs and a throw-away home, never a database."""
    home = REPO_ROOT / ".state" / "task-airflow-home"
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
    bag = DagBag(dag_folder=str(dags), include_examples=False)
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
    # Only what the operator reads to label the pod: there is no task instance without a database.
    ti = SimpleNamespace(dag_id=dag.dag_id, task_id=task.task_id, run_id=context["run_id"], map_index=-1,
                         try_number=1)
    context["ti"] = context["task_instance"] = ti
    try:
        task.render_template_fields(context)
    except Exception as exc:
        raise UserError(f"rendering the templates of {task.task_id} failed: {type(exc).__name__}: {exc}",
                        "`task` provides ds, ts, logical_date, run_id and params; others need the cluster") from None
    if not task.namespace:
        task.namespace = target.namespace
    # No cluster here: the provider asks its hook only for the namespace and whether it runs in a cluster.
    task.__dict__["hook"] = SimpleNamespace(is_in_cluster=False, get_namespace=lambda: target.namespace)
    if task.do_xcom_push:
        # The sidecar only relays /airflow/xcom/return.json to the scheduler: locally there is none.
        task.do_xcom_push = False
        notes.append("do_xcom_push: the XCom sidecar is left out; the return value is not collected")
    from kubernetes.client import ApiClient

    pod = task.build_pod_request_obj(context)
    return ApiClient().sanitize_for_serialization(pod), notes


# -- the pod cache: Airflow and the Kubernetes clients take seconds to import, the inner loop is run often -----
CACHE_DIR = REPO_ROOT / ".state" / "task-pods"


def _digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "missing"


def _cache_context(folders: Folders, target: Target, dag_id: str, task_id: str, run_id: str) -> dict[str, Any]:
    """What the pod depends on besides the files the DAG imported: a change to any of it means a new parse.

    Every file under dags/ that is not Python (images.json, configuration a DAG may read) counts, and so does
    the list of Python files (a new DAG file may define the same DAG id); scripts run inside the pod do not.
    """
    from automation.settings import settings_files

    files = sorted(p for p in folders.dags.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
    return {
        "dag": dag_id, "task": task_id, "run_id": run_id, "day": datetime.now(UTC).strftime("%Y-%m-%d"),
        "dags": str(folders.dags), "target": target.name,
        "python_files": [str(p.relative_to(folders.dags)) for p in files if p.suffix == ".py"],
        "data_files": {str(p.relative_to(folders.dags)): _digest(p) for p in files if p.suffix != ".py"},
        "settings": {str(p): _digest(p) for p in settings_files()},
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


def run_task(runner: Runner, target: Target, dag_id: str, task_id: str, *, dags: Path | None = None,
             data: Path | None = None, user: str | None = None, run_id: str = "manual__local",
             reparse: bool = False) -> int:
    folders = Folders(
        dags=(dags or (target.path(target.mounts.dags.host) if target.mounts else REPO_ROOT / "dags")).resolve(),
        data=(data or (target.path(target.mounts.data.host) if target.mounts else REPO_ROOT / "data")).resolve(),
    )
    key = _cache_context(folders, target, dag_id, task_id, run_id)
    hit = None if reparse else cached_pod(key, dag_id, task_id)
    with runner.step(f"task {dag_id}.{task_id}: the pod, from the DAG"):
        if hit is not None:
            pod, notes = hit
            runner.ok("the DAG's files are unchanged: pod reused from the last parse (--reparse forces one)")
        else:
            dag, task = load_task(folders.dags, dag_id, task_id)
            pod, notes = render_pod(dag, task, target, run_id)
            store_pod(key, dag_id, task_id, folders.dags, pod, notes)
        run = translate(pod, target, folders)
        run.notes += notes
        if user:
            run.user = user
    for note in run.notes:
        runner.say(f"    note: {note}")
    image = _local_image(runner, run.image)
    run.image = image
    env = {**os.environ, **run.secret_env}
    with runner.step(f"task {dag_id}.{task_id}: docker run {image}"):
        result = runner.run(run.command(), env=env, stream=True, check=False, timeout=None)
    if result.dry_run:
        return 0
    status = "succeeded" if result.ok else f"failed with exit code {result.exit_code}"
    runner.say(f"==> task {dag_id}.{task_id} {status} ({result.seconds:.1f}s in the container)")
    return result.exit_code


def _local_image(runner: Runner, image: str) -> str:
    """The pod's image, or the same NAME:TAG without its registry (built here, pushed under a longer name)."""
    from automation.images import exists_locally

    if exists_locally(runner, image):
        return image
    short = image.rsplit("/", 1)[-1]
    if short != image and exists_locally(runner, short):
        return short
    if runner.dry_run:
        return image
    raise UserError(f"image {image} is not in this machine's Docker",
                    "build it: nox -s images (the tag comes from dags/common/images.json)")
