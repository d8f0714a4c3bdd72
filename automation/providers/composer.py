"""Cloud Composer 3: Google runs Airflow; we hand it each project's ConfigMap and Secret (its user-workloads
API), the task-pod facts (Airflow environment variables) and the DAGs (the environment's bucket), all through
gcloud. No cluster access, no Helm.

Nothing here needs credentials in a dry run: every gcloud read that fails counts as "absent", so the plan
shows everything a first run would do.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from automation.airflow.client import AirflowApi
from automation.core.errors import UserError
from automation.core.paths import write_private
from automation.k8s.objects import ConfigMap, Secret
from automation.providers.airflow_objects import Ledger, Store
from automation.providers.base import PodRule, Provider, UpOptions
from automation.providers.composer_objects import ComposerCliStore
from automation.providers.composer_pod_rules import lint_pod
from automation.settings.contract import COMPOSER_NAMESPACE
from automation.settings.model import Composer

# Composer's user-workloads command group for each kind of project object.
WORKLOAD_GROUP = {"ConfigMap": "user-workloads-config-maps", "Secret": "user-workloads-secrets"}


@dataclass
class MadeWorkloads:
    """The user-workloads ConfigMaps and Secrets this machine created on a Composer environment
    (`.state/TARGET/workloads.json`): the only ones `up` may delete when their project is dropped."""

    path: Path
    names: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> MadeWorkloads:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        names = {kind: sorted(str(n) for n in data.get(kind, [])) for kind in WORKLOAD_GROUP
                 if isinstance(data, dict) and isinstance(data.get(kind), list)}
        return cls(path, names)

    def record(self, kind: str, name: str) -> None:
        self.names[kind] = sorted({*self.names.get(kind, []), name})

    def forget(self, kind: str, name: str) -> None:
        self.names[kind] = [n for n in self.names.get(kind, []) if n != name]

    def dropped(self, wanted: set[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(kind, name) for kind in sorted(self.names) for name in self.names[kind] if (kind, name) not in wanted]

    def save(self) -> None:
        write_private(self.path, json.dumps(self.names, indent=1, sort_keys=True))


class ComposerProvider(Provider):
    kind = "composer"
    binaries = ("gcloud",)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._environment: dict[str, Any] | None = None

    @property
    def composer(self) -> Composer:
        assert self.target.composer is not None
        return self.target.composer

    def airflow_version(self) -> str:
        return self.composer.airflow_version or super().airflow_version()

    def _where(self) -> list[str]:
        c = self.composer
        return ["--environment", c.environment, "--location", c.region, "--project", c.project]

    def _env_cmd(self, *verb: str) -> list[str]:
        c = self.composer
        return ["gcloud", "composer", "environments", *verb, c.environment, "--location", c.region,
                "--project", c.project]

    def pod_rules(self) -> list[PodRule]:
        return [lint_pod]

    def check_resources(self) -> None:
        target = self.target
        if target.namespace != COMPOSER_NAMESPACE:
            raise UserError(f"targets.{target.name}.namespace is {target.namespace!r}: Composer 3 runs task pods "
                            f"in {COMPOSER_NAMESPACE} only", f"set namespace: {COMPOSER_NAMESPACE}")

    # -- what the target needs ---------------------------------------------------------------------------------
    def code_root(self) -> str:
        bucket = self.composer.environment_bucket
        return f"gs://{bucket.removeprefix('gs://').rstrip('/')}/dags" if bucket else ""

    def task_pod_facts(self) -> Any:
        """No claims and no node paths on Composer: task code and data come from buckets."""
        return replace(super().task_pod_facts(), namespace=COMPOSER_NAMESPACE, dags_claim="", data_claim="",
                       code_root=self.code_root())

    # -- up ------------------------------------------------------------------------------------------------------
    def ensure_cluster(self) -> None:
        """Composer environments are created once by hand: read the one the target names."""
        self.environment()

    def environment(self) -> dict[str, Any]:
        """The environment the target names, described once per command, by whichever step asks first."""
        if self._environment is not None:
            return self._environment
        env = self.describe()
        if env is None:
            if not self.runner.dry_run:
                raise UserError(f"Composer environment {self.composer.environment} not found or not readable",
                                "check the composer block of the target and `gcloud auth login`")
            self.runner.say("    warning: environment not readable (dry run: planning as if it were empty)")
            env = {}
        else:
            self.runner.ok(f"environment {self.composer.environment}: {env.get('state', '?')}")
        self._environment = env
        return env

    def describe(self) -> dict[str, Any] | None:
        result = self.runner.try_read([*self._env_cmd("describe"), "--format=json"], timeout=120)
        if result is None:
            return None
        try:
            return dict(json.loads(result.stdout or "{}"))
        except ValueError:
            return None

    def login_hint(self) -> tuple[str, str]:
        return "your Google account", "(Google sign-in)"

    def airflow_objects_store(self, api: AirflowApi | None, ledger: Ledger) -> Store:
        """Composer's Airflow CLI through gcloud: no port-forward, no Airflow login."""
        return ComposerCliStore(self.runner, self._env_cmd("run"), ledger)

    def ensure_objects(self, projects: list[ConfigMap | Secret]) -> dict[str, str]:
        """Each project's ConfigMap and Secret from the same k8s/PROJECT files, through Composer's API; then the
        ones this machine made for a project since dropped from the settings are deleted. Composer's
        user-workloads objects carry no labels, so what this tool made is recorded in the target's state
        (MadeWorkloads): an object it did not record is never deleted."""
        outcome: dict[str, str] = {}
        folder = self.state_dir() / "workloads"
        made = MadeWorkloads.load(self.state_dir() / "workloads.json")
        for obj in projects:
            kind = type(obj).__name__
            is_secret = isinstance(obj, Secret)
            flag = "--secret-file-path" if is_secret else "--config-map-file-path"
            current = self.runner.try_read(["gcloud", "composer", "environments", WORKLOAD_GROUP[kind], "describe",
                                            obj.name, *self._where(), "--format=json"], timeout=120)
            if current is not None and isinstance(obj, ConfigMap) and _same_data(current.stdout, obj):
                self.runner.ok(f"ConfigMap/{obj.name} unchanged")
                outcome[f"ConfigMap/{obj.name}"] = "unchanged"
                continue
            verb = "update" if current is not None else "create"
            path = folder / f"{'secret' if is_secret else 'configmap'}-{obj.name}.yaml"
            if not self.runner.dry_run:
                write_private(path, yaml.safe_dump(composer_document(obj), sort_keys=False))
            try:
                self.runner.run(["gcloud", "composer", "environments", WORKLOAD_GROUP[kind], verb, *self._where(),
                                 f"{flag}={path}"], timeout=300)
            finally:
                if is_secret and not self.runner.dry_run:
                    path.unlink(missing_ok=True)  # secret values stay on disk no longer than the call
            if verb == "create" and not self.runner.dry_run:
                made.record(kind, obj.name)
                made.save()
            outcome[f"{kind}/{obj.name}"] = "created" if verb == "create" else "updated"
        wanted = {(type(obj).__name__, obj.name) for obj in projects}
        for kind, name in made.dropped(wanted):
            self.runner.say(f"    {kind}/{name}: made by this tool for a project no longer in the settings: "
                            "deleting it")
            deleted = self.runner.run(["gcloud", "composer", "environments", WORKLOAD_GROUP[kind], "delete", name,
                                       *self._where(), "--quiet"], timeout=300, check=False)
            if not deleted.ok and "NOT_FOUND" not in deleted.stderr:
                raise UserError(f"deleting the user-workloads {kind} {name} failed: {deleted.stderr.strip()[-200:]}",
                                "check your access to the environment, then run `up` again")
            if not self.runner.dry_run:
                made.forget(kind, name)
                made.save()
            outcome[f"{kind}/{name}"] = "deleted"
        return outcome

    def ensure_env_variables(self, env: dict[str, Any]) -> str:
        wanted = self.task_env()
        current = ((env.get("config") or {}).get("softwareConfig") or {}).get("envVariables") or {}
        if all(current.get(k) == v for k, v in wanted.items()):
            self.runner.ok("environment variables already set")
            return "unchanged"
        pairs = ",".join(f"{k}={v}" for k, v in sorted(wanted.items()))
        # An environment update takes minutes: it runs only when a value differs.
        self.runner.run([*self._env_cmd("update"), f"--update-env-variables={pairs}"], timeout=3600,
                        stream=True, heartbeat=30)
        return "updated"

    def import_dags(self) -> None:
        dags = self.target.path("dags")
        if not dags.is_dir():
            raise UserError(f"DAG folder {dags} does not exist", "run from the repository root")
        # A directory is imported under its own name: import dags/'s entries so they land at the bucket's dags/.
        for entry in sorted(dags.iterdir()):
            if entry.name == "__pycache__" or entry.name.startswith("."):
                continue
            self.runner.run(["gcloud", "composer", "environments", "storage", "dags", "import", *self._where(),
                             "--source", os.path.relpath(entry, Path.cwd()) if _inside_cwd(entry) else str(entry)],
                            timeout=600)

    # -- down, status --------------------------------------------------------------------------------------------
    def uninstall(self) -> None:
        """Composer environments are not stopped by this tool."""

    def cluster_summary(self) -> str:
        c = self.composer
        return f"Composer {c.project}/{c.region}/{c.environment}"

    def mounts_summary(self) -> str:
        return "DAGs in the environment's bucket (gcloud composer environments storage dags)"


@dataclass(frozen=True)
class EnvironmentUpdate:
    """Composer's deployment: the task-pod facts as the environment's variables, then the DAG folder to its
    bucket. Its inputs are the settings themselves: nothing to read beforehand."""

    provider: ComposerProvider
    title = "Airflow environment variables (AUTOMATION_*), then DAGs and task scripts to the bucket"

    @property
    def inputs(self) -> dict[str, str]:
        return self.provider.task_env()

    def component_env(self) -> tuple[dict[str, str], str]:
        return self.provider.task_env(), "the planned Composer environment-variable update"

    def apply(self) -> str:
        changed = self.provider.ensure_env_variables(self.provider.environment())
        self.provider.import_dags()
        return changed


class ComposerDeployer:
    """Google runs Airflow: `up` updates the environment and reads the URL it serves."""

    # Reached at the environment's airflowUri, through Google's sign-in: nothing to forward.
    ui_forward = None

    def __init__(self, provider: ComposerProvider):
        self.provider = provider

    def prepare(self, options: UpOptions) -> EnvironmentUpdate:
        return EnvironmentUpdate(self.provider)

    def wait_and_open(self, options: UpOptions, report: dict[str, Any]) -> str:
        return str(((self.provider.environment().get("config") or {}).get("airflowUri"))
                   or "(the environment's Airflow URI)")


def composer_document(obj: ConfigMap | Secret) -> dict[str, Any]:
    """The single-object YAML Composer's user-workloads commands take: name and data (Secret data base64)."""
    rendered = obj.render()
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": rendered["kind"], "metadata": {"name": obj.name}}
    if isinstance(obj, Secret):
        doc["type"] = "Opaque"
    doc["data"] = rendered["data"]
    return doc


def _same_data(described: str, obj: ConfigMap) -> bool:
    try:
        return bool((json.loads(described or "{}").get("data") or {}) == obj.data)
    except ValueError:
        return False


def _inside_cwd(path: Path) -> bool:
    try:
        path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return False
    return True
