"""A task pod translated to `docker run`: same image, command, arguments, environment (the project's ConfigMap
and Secret read from its files, with Kubernetes' precedence), user, and the DAG and data claims bound to this
repository's folders. What cannot be run locally is refused with one line."""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automation.core.errors import UserError
from automation.settings.contract import DAGS_CLAIM, DATA_CLAIM, XCOM_DIR, XCOM_SIDECAR
from automation.settings.model import Target
from automation.settings.projects import project_files

if TYPE_CHECKING:
    from docker.types import Mount


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
    # Where the task writes its XCom (the sidecar's folder), when it returns one: `task` binds a folder there.
    xcom_dir: str | None = None
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

    def environment(self) -> dict[str, str]:
        """Every variable with its value, secret ones included: for the container's API request only."""
        return {**self.env, **self.secret_env}

    def engine_mounts(self) -> list[Mount]:
        return [engine_mount(spec) for spec in self.mounts]

    def create_kwargs(self) -> dict[str, Any]:
        """The same container as `command()`, as arguments of the SDK's `containers.create`: the environment
        goes in the request body (never on a command line), and an entrypoint replaces the image's CMD too."""
        kwargs: dict[str, Any] = {
            "image": self.image,
            "command": list(self.args) or None,
            "environment": self.environment(),
            "mounts": self.engine_mounts(),
        }
        if self.entrypoint is not None:
            kwargs["entrypoint"] = [self.entrypoint]
        if self.user:
            kwargs["user"] = self.user
        if self.workdir:
            kwargs["working_dir"] = self.workdir
        return kwargs


def engine_mount(spec: str) -> Mount:
    """One `--mount` value of `DockerRun.mounts` (type=bind,source=S,destination=D[,readonly] or
    type=tmpfs,destination=D[,tmpfs-mode=OCTAL]) as the SDK's Mount."""
    from docker.types import Mount

    fields: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        fields[key] = value if sep else "true"
    kind = fields.pop("type", "volume")
    target = fields.pop("destination", None) or fields.pop("target", None) or fields.pop("dst", None)
    if not target:
        raise ValueError(f"mount {spec!r} names no destination")
    read_only = fields.pop("readonly", fields.pop("ro", "false")) in ("true", "1")
    if kind == "bind":
        source = fields.pop("source", None) or fields.pop("src", None)
        if not source:
            raise ValueError(f"bind mount {spec!r} names no source")
        mount = Mount(target, source, type="bind", read_only=read_only)
    elif kind == "tmpfs":
        mode = fields.pop("tmpfs-mode", None)
        mount = Mount(target, None, type="tmpfs", read_only=read_only,
                      tmpfs_mode=int(mode, 8) if mode else None)
    else:
        raise ValueError(f"mount {spec!r}: only bind and tmpfs mounts come from a pod")
    if fields:
        raise ValueError(f"mount {spec!r}: unknown option {next(iter(fields))!r}")
    return mount


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
    # The XCom sidecar only waits until the task's XCom is read: locally `task` reads it from a bound folder.
    containers = [c for c in spec.get("containers") or [] if c.get("name") != XCOM_SIDECAR]
    has_sidecar = len(containers) < len(spec.get("containers") or [])
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
    _volumes(run, spec, container, folders, xcom=has_sidecar)
    return run


def _environment(run: DockerRun, container: dict[str, Any], target: Target) -> None:
    # Kubernetes order: envFrom sources in turn, then env entries, each later one winning.
    # A source marked optional (project_task marks both) that has no file is skipped, as Kubernetes skips it.
    def config(name: str, optional: bool = False) -> dict[str, str]:
        values = project_files(name, target).config_values(target.name)
        if values is None and optional:
            return {}
        if values is None:
            raise UserError(f"the pod reads ConfigMap {name!r} but {target.projects_dir}/{name}/config.env "
                            "does not exist", f"create it (one folder per project under {target.projects_dir}/)")
        return values

    def secret(name: str, optional: bool = False) -> dict[str, str]:
        values = project_files(name, target).secret_values(target.name)  # registers every value as secret
        if values is None and optional:
            return {}
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
            ref = source["configMapRef"]
            for key, value in config(ref["name"], bool(ref.get("optional"))).items():
                put(prefix + key, value, False)
        elif source.get("secretRef"):
            ref = source["secretRef"]
            for key, value in secret(ref["name"], bool(ref.get("optional"))).items():
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


def _volumes(run: DockerRun, spec: dict[str, Any], container: dict[str, Any], folders: Folders, *,
             xcom: bool = False) -> None:
    volumes = {v["name"]: v for v in spec.get("volumes") or []}
    for mount in container.get("volumeMounts") or []:
        name, path = mount["name"], mount["mountPath"]
        volume = volumes.get(name)
        if volume is None:
            raise UserError(f"volume mount {name!r} names no volume of the pod", "fix the DAG's volumes")
        if xcom and path == XCOM_DIR and "emptyDir" in volume:
            run.xcom_dir = path
            continue
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
