"""The settings file (`targets.yaml`): every target described once, loaded into typed, validated objects.

A target inherits `defaults`, may `extends:` another target, and overlay files (`--settings FILE`, or the
`AUTOMATION_SETTINGS` environment variable, colon-separated) are deep-merged on top. Lists named `values`
accumulate (common values first, then each overlay's); every other key is replaced.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, field_validator
from pydantic.dataclasses import dataclass as checked

from automation.errors import UserError
from automation.versions import VERSIONS, parse

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = REPO_ROOT / "targets.yaml"
STRICT = ConfigDict(extra="forbid")

DnsLabel = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
Quantity = Annotated[str, Field(pattern=r"^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$")]


@checked(config=STRICT)
class Chart:
    source: Literal["repo", "path"] = "repo"
    repository: str = "https://airflow.apache.org"
    name: str = "airflow"
    path: str | None = None
    version: str = VERSIONS.chart

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not re.fullmatch(r"\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?", value):
            raise ValueError(f"a chart version such as {VERSIONS.chart}, not {value!r}")
        return value


@checked(config=STRICT)
class Minikube:
    profile: DnsLabel = "airflow"
    cpus: Annotated[int, Field(ge=2)] = 6
    memory_mb: Annotated[int, Field(ge=2048)] = 8192
    driver: str = "docker"
    disk: Annotated[str, Field(pattern=r"^[0-9]+[mMgG][bB]?$")] = "40g"


@checked(config=STRICT)
class Existing:
    # kube context to use; None means the current context of the kubeconfig.
    context: str | None = None
    kubeconfig: str | None = None


@checked(config=STRICT)
class Gke:
    project: str
    region: str
    cluster: str
    artifact_repository: str = "airflow"
    # GCS Fuse backs the same claims as locally: DAGs (read-only) and data, each from its bucket.
    dags_bucket: str = ""
    data_bucket: str = ""
    logs_bucket: str = ""
    google_service_account: str = ""
    kubernetes_service_account: str = "airflow-tasks"


@checked(config=STRICT)
class Composer:
    project: str
    region: str
    environment: str
    artifact_repository: str = "airflow"
    data_bucket: str = ""


@checked(config=STRICT)
class Mount:
    # Folder on this machine (relative to the repository) and where the node sees it.
    host: str
    node: str

    @field_validator("node")
    @classmethod
    def _absolute(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"an absolute path on the node, not {value!r}")
        return value


@checked(config=STRICT)
class Mounts:
    dags: Mount
    data: Mount


@checked(config=STRICT)
class Logs:
    # A node-native folder (not a host mount: containers cannot write there), owned by uid 50000.
    node_path: str = "/data/airflow-logs"
    size: Quantity = "5Gi"
    # Remote logging (GKE): gs://BUCKET/PATH. Empty: logs live on the claim.
    remote_base: str = ""


@checked(config=STRICT)
class Database:
    # chart: the chart's bundled PostgreSQL. external: a connection URL from a git-ignored file, stored once
    # as the Secret the chart reads (`data.metadataSecretName`).
    mode: Literal["chart", "external"] = "chart"
    url_file: str | None = None


@checked(config=STRICT)
class Images:
    # How images built on this machine reach the cluster.
    load: Literal["minikube", "kind", "registry", "none", "command"] = "minikube"
    # For load=command: run once per image, {image} is replaced by NAME:TAG (a shell pipeline is allowed).
    command: str | None = None
    # For load=registry: prefix such as REGION-docker.pkg.dev/PROJECT/REPO.
    registry: str | None = None
    # kind cluster name for load=kind.
    kind_cluster: str = "kind"


@checked(config=STRICT)
class Login:
    username: str = "admin"
    # The local target's fixed password; None on shared targets, where it comes from `password_secret`.
    password: str | None = None
    password_secret: str | None = None


@checked(config=STRICT)
class Ui:
    port: Annotated[int, Field(ge=1024, le=65535)] = 8090
    service: str = "api-server"


@checked(config=STRICT)
class Target:
    name: str
    provider: Literal["minikube", "existing", "gke", "composer"]
    namespace: DnsLabel = "airflow"
    release: DnsLabel = "airflow"
    chart: Chart = field(default_factory=Chart)
    values: list[str] = field(default_factory=list)
    projects: list[DnsLabel] = field(default_factory=list)
    # Where each project's config.env / secret.env live (one folder per project).
    projects_dir: str = "k8s"
    ui: Ui = field(default_factory=Ui)
    login: Login = field(default_factory=Login)
    minikube: Minikube | None = None
    existing: Existing | None = None
    gke: Gke | None = None
    composer: Composer | None = None
    mounts: Mounts | None = None
    logs: Logs = field(default_factory=Logs)
    database: Database = field(default_factory=Database)
    images: Images = field(default_factory=Images)
    # Where task pods find their project's data: a path inside the pod, or gs://BUCKET.
    data_root: str = "/data"
    # Airflow components that cannot run on a cluster (for example statsd where its image cannot be pulled).
    disable: list[str] = field(default_factory=list)
    # Seconds `up` waits for the Airflow components.
    ready_timeout: Annotated[int, Field(ge=30)] = 900

    @property
    def is_local_cluster(self) -> bool:
        return self.provider in ("minikube", "existing")

    def path(self, relative: str) -> Path:
        """A settings path, relative to the repository root."""
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else REPO_ROOT / candidate


_TARGET = TypeAdapter(Target)
_TOP_KEYS = {"defaults", "targets"}
_REQUIRED_BLOCK = {"minikube": "minikube", "gke": "gke", "composer": "composer"}


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise UserError(f"settings file {path} does not exist", "check the path given to --settings")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserError(f"{path}: invalid YAML{where}: {problem}", "fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping with 'defaults' and 'targets', got {type(data).__name__}")
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise UserError(f"{path}: unknown top-level key {sorted(unknown)[0]!r}", "use only 'defaults' and 'targets'")
    if not isinstance(data.get("targets", {}), dict):
        raise UserError(f"{path}: 'targets' must be a mapping of target name to settings")
    return data


def expand(value: Any) -> Any:
    """`{repo}` in any string stands for this repository's folder (for node paths of a local node)."""
    if isinstance(value, str):
        return value.replace("{repo}", str(REPO_ROOT))
    if isinstance(value, dict):
        return {k: expand(v) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v) for v in value]
    return value


def deep_merge(base: Any, over: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for k, v in over.items():
            merged[k] = deep_merge(base.get(k), v, k) if k in base else v
        return merged
    if key == "values" and isinstance(base, list) and isinstance(over, list):
        return base + [v for v in over if v not in base]
    return over


@dataclass
class Settings:
    files: list[Path]
    defaults: dict[str, Any]
    raw_targets: dict[str, tuple[Path, dict[str, Any]]]

    @property
    def names(self) -> list[str]:
        return list(self.raw_targets)

    def _resolve(self, name: str, seen: tuple[str, ...] = ()) -> dict[str, Any]:
        if name not in self.raw_targets:
            known = ", ".join(self.names)
            raise UserError(f"unknown target {name!r}", f"use one of: {known} (defined in {self.files[0].name})")
        if name in seen:
            raise UserError(f"targets {' -> '.join((*seen, name))} extend each other in a cycle")
        raw = dict(self.raw_targets[name][1])
        parent = raw.pop("extends", None)
        base = self._resolve(parent, (*seen, name)) if parent else self.defaults
        return deep_merge(base, raw)

    def target(self, name: str) -> Target:
        data = expand(self._resolve(name))
        data["name"] = name
        # A value may come from any of the files (a default in an overlay): name them all when there are several.
        path = self.raw_targets[name][0] if len(self.files) == 1 else " + ".join(str(f) for f in self.files)
        try:
            target = _TARGET.validate_python(data)
        except ValidationError as exc:
            raise UserError(_describe(exc, path, name), "fix that key in the settings file") from None
        block = _REQUIRED_BLOCK.get(target.provider)
        if block and getattr(target, block) is None:
            raise UserError(
                f"{path}: targets.{name}.{block}: missing, provider {target.provider!r} needs it",
                f"add a '{block}:' block to targets.{name}",
            )
        if target.provider in ("minikube", "existing") and target.mounts is None:
            raise UserError(f"{path}: targets.{name}.mounts: missing", "add mounts.dags and mounts.data")
        if target.chart.source == "path" and not target.chart.path:
            raise UserError(f"{path}: targets.{name}.chart.path: missing for source 'path'",
                            "set chart.path to a chart folder or .tgz")
        if target.images.load == "command" and not target.images.command:
            raise UserError(f"{path}: targets.{name}.images.command: missing for load 'command'",
                            "set images.command, for example 'kind load docker-image {image}'")
        if target.database.mode == "external" and not target.database.url_file:
            raise UserError(f"{path}: targets.{name}.database.url_file: missing for mode 'external'",
                            "point url_file at a git-ignored file holding the SQLAlchemy URL")
        return target


def _describe(exc: ValidationError, path: Path | str, name: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not str(p).startswith(("function-", "Annotated")))
    got = err.get("input")
    got_text = "" if isinstance(got, dict) else f", got {got!r}"
    message = err["msg"]
    if err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
        message = "unknown key"
        got_text = ""
    elif err["type"] == "value_error":
        message = message.removeprefix("Value error, ")
        got_text = ""
    elif err["type"] == "missing":
        message = "missing required key"
        got_text = ""
    elif err["type"] == "string_pattern_mismatch":
        pattern = err.get("ctx", {}).get("pattern", "")
        message = ("expected a lowercase DNS name" if "a-z0-9" in pattern
                   else "expected a size such as 40g" if "mMgG" in pattern else "expected a quantity such as 5Gi")
    return f"{path}: targets.{name}.{loc}: {message}{got_text}"


def settings_files(extra: list[str] | None = None) -> list[Path]:
    files = [SETTINGS_FILE]
    env = os.environ.get("AUTOMATION_SETTINGS", "")
    for item in [*env.split(os.pathsep), *(extra or [])]:
        if item:
            p = Path(item).expanduser()
            files.append(p if p.is_absolute() else Path.cwd() / p)
    return files


def load(extra: list[str] | None = None) -> Settings:
    files = settings_files(extra)
    defaults: dict[str, Any] = {}
    targets: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path in files:
        data = _read_yaml(path)
        defaults = deep_merge(defaults, data.get("defaults") or {})
        for name, body in (data.get("targets") or {}).items():
            if not isinstance(body, dict):
                raise UserError(f"{path}: targets.{name}: expected a mapping of settings, got {body!r}")
            if name in targets:
                body = deep_merge(targets[name][1], body)
            targets[name] = (path, body)
    return Settings(files, defaults, targets)


def load_target(name: str, extra: list[str] | None = None, **overrides: Any) -> Target:
    target = load(extra).target(name)
    if target.minikube and (overrides.get("cpus") or overrides.get("memory_mb")):
        mk = target.minikube
        try:
            return _with_minikube(target, mk, overrides)
        except ValidationError as exc:
            err = exc.errors()[0]
            flag = {"cpus": "--cpus", "memory_mb": "--memory"}.get(str(err["loc"][0]), str(err["loc"][0]))
            raise UserError(f"{flag}: {err['msg']}, got {err.get('input')!r}", f"pass a larger {flag}") from None
    return target


def _with_minikube(target: Target, mk: Minikube, overrides: dict[str, Any]) -> Target:
    resized = Minikube(profile=mk.profile, cpus=overrides.get("cpus") or mk.cpus,
                       memory_mb=overrides.get("memory_mb") or mk.memory_mb, driver=mk.driver, disk=mk.disk)
    return replace(target, minikube=resized)


def check_version(found: str, minimum: str) -> bool:
    return parse(found) >= parse(minimum)
