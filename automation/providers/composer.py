"""Cloud Composer 3: Google runs Airflow; we hand it each project's ConfigMap and Secret (its user-workloads
API), the task-pod facts (Airflow environment variables), the DAGs (the environment's bucket) and each project's
inputs (the data bucket), all through gcloud; connections, variables and pools through Airflow's REST API at the
environment's airflowUri, signed in with the user's Google access token. No cluster access, no Helm.

Nothing here needs credentials in a dry run: every gcloud read that fails counts as "absent", so the plan
shows everything a first run would do.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from automation.airflow.endpoint import Endpoint
from automation.core.errors import UserError
from automation.core.paths import write_private
from automation.k8s.objects import ConfigMap, Secret
from automation.providers.base import PodRule, Provider, UpOptions
from automation.providers.composer_api import WORKLOAD_GROUP, composer_document, software_config
from automation.providers.composer_pod_rules import lint_pod
from automation.providers.composer_status import composer_rows
from automation.providers.google_sign_in import google_credentials
from automation.settings.contract import (
    CLOUD_POD_START_CHECK_SECONDS,
    COMPOSER_KUBE_CONFIG,
    COMPOSER_NAMESPACE,
    SEEDED_INPUT,
)
from automation.settings.model import Composer
from automation.storage.gcloud_rsync import rsync_command

# Composer's user-workloads command group for each kind of project object.
# Composer's own DAG in the environment's dags/ folder (Composer 2 documents it there): never deleted by the mirror.
COMPOSER_MONITORING_DAG = "airflow_monitoring.py"


@dataclass
class MadeWorkloads:
    """The user-workloads ConfigMaps and Secrets this machine created on a Composer environment
    (`.state/TARGET/workloads.json`): the only ones `up` may delete when their project is dropped. Composer never
    shows a Secret's values back, so the digest of what was last written is kept too (never the values): an
    unchanged Secret is not rewritten."""

    path: Path
    names: dict[str, list[str]] = field(default_factory=dict)
    written: dict[str, str] = field(default_factory=dict)  # Secret name -> sha256 of its data when last written

    @classmethod
    def load(cls, path: Path) -> MadeWorkloads:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            data = {}
        data = data if isinstance(data, dict) else {}
        names = {kind: sorted(str(n) for n in data.get(kind, [])) for kind in WORKLOAD_GROUP
                 if isinstance(data.get(kind), list)}
        written = data.get("written")
        written = written if isinstance(written, dict) else {}
        return cls(path, names, {str(k): str(v) for k, v in written.items()})

    def record(self, kind: str, name: str) -> None:
        self.names[kind] = sorted({*self.names.get(kind, []), name})

    def forget(self, kind: str, name: str) -> None:
        self.names[kind] = [n for n in self.names.get(kind, []) if n != name]
        if kind == "Secret":
            self.written.pop(name, None)

    def dropped(self, wanted: set[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(kind, name) for kind in sorted(self.names) for name in self.names[kind] if (kind, name) not in wanted]

    def save(self) -> None:
        write_private(self.path, json.dumps({**self.names, "written": self.written}, indent=1, sort_keys=True))


def digest(data: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


class ComposerProvider(Provider):
    kind = "composer"
    binaries = ("gcloud",)
    api_sign_in = "google"

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._environment: dict[str, Any] | None = None

    @property
    def composer(self) -> Composer:
        assert self.target.composer is not None
        return self.target.composer

    def airflow_version(self) -> str:
        return self.composer.airflow_version or super().airflow_version()

    def where(self) -> list[str]:
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
        missing = [f"composer.{key}" for key in ("environment_bucket", "data_bucket")
                   if not getattr(self.composer, key)]
        if missing:
            raise UserError(f"target {target.name}: {', '.join(missing)} not set",
                            f"set them in a settings overlay (environment_bucket: `{self.describe_command()} "
                            "--format='value(config.dagGcsPrefix)'` without gs:// and /dags)")

    # -- what the target needs ---------------------------------------------------------------------------------
    def code_root(self) -> str:
        bucket = self.composer.environment_bucket
        return f"gs://{bucket.removeprefix('gs://').rstrip('/')}/dags" if bucket else ""

    def task_pod_facts(self) -> Any:
        """No claims and no node paths on Composer: task code and data come from buckets."""
        return replace(super().task_pod_facts(), namespace=COMPOSER_NAMESPACE, dags_claim="", data_claim="",
                       code_root=self.code_root(), kube_config_file=COMPOSER_KUBE_CONFIG,
                       pod_start_check_seconds=CLOUD_POD_START_CHECK_SECONDS)

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
                raise UserError(f"Composer environment {self.composer.environment} not found or not readable "
                                f"(project {self.composer.project}, location {self.composer.region})",
                                f"create it once: `{self.create_command()}`; or check the composer block of the "
                                "target and `gcloud auth login`")
            self.runner.say("    warning: environment not readable (dry run: planning as if it were empty)")
            env = {}
        else:
            self.check_environment(env)
        self._environment = env
        return env

    def describe_command(self) -> str:
        return shlex.join(self._env_cmd("describe"))

    def create_command(self) -> str:
        c = self.composer
        image = f" --image-version {c.image_version}" if c.image_version else ""
        return f"gcloud composer environments create {c.environment} --location {c.region} --project {c.project}{image}"

    def check_environment(self, env: dict[str, Any]) -> None:
        """The environment `up` would change runs, and runs the Composer image the DAGs were checked against."""
        c = self.composer
        state = str(env.get("state") or "?")
        running = software_config(env).get("imageVersion") or ""
        if c.image_version and running and running != c.image_version:
            raise UserError(f"Composer environment {c.environment} runs {running}, the target says {c.image_version} "
                            "(the Airflow its DAGs are checked against)",
                            f"set composer.image_version: {running} in the target's settings, or upgrade the "
                            "environment first")
        served = str((env.get("config") or {}).get("dagGcsPrefix") or "")
        if served and served.rstrip("/") != self.code_root():
            raise UserError(f"Composer environment {c.environment} reads its DAGs from {served}, the target says "
                            f"{self.code_root()}", f"set composer.environment_bucket: "
                            f"{served.removeprefix('gs://').split('/')[0]} in the target's settings")
        if state != "RUNNING" and not self.runner.dry_run:
            raise UserError(f"Composer environment {c.environment} is {state}, not RUNNING: it takes no update now",
                            f"wait until `{self.describe_command()} --format='value(state)'` says RUNNING, then `up` "
                            "again")
        self.runner.ok(f"environment {c.environment}: {state}, {running or 'image version not shown'}")

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

    def ensure_objects(self, projects: list[ConfigMap | Secret]) -> dict[str, str]:
        """Each project's ConfigMap and Secret from the same k8s/PROJECT files, through Composer's API; then the
        ones this machine made for a project since dropped from the settings are deleted. Composer's
        user-workloads objects carry no labels, so what this tool made is recorded in the target's state
        (MadeWorkloads): an object it did not record is never deleted."""
        outcome: dict[str, str] = {}
        folder = self.state_dir() / "workloads"
        made = self.made_workloads()
        for obj in projects:
            kind = type(obj).__name__
            is_secret = isinstance(obj, Secret)
            flag = "--secret-file-path" if is_secret else "--config-map-file-path"
            current = self.runner.try_read(["gcloud", "composer", "environments", WORKLOAD_GROUP[kind], "describe",
                                            obj.name, *self.where(), "--format=json"], timeout=120)
            if current is not None and _unchanged(current.stdout, obj, made):
                self.runner.ok(f"{kind}/{obj.name} unchanged")
                outcome[f"{kind}/{obj.name}"] = "unchanged"
                continue
            verb = "update" if current is not None else "create"
            path = folder / f"{'secret' if is_secret else 'configmap'}-{obj.name}.yaml"
            if not self.runner.dry_run:
                write_private(path, yaml.safe_dump(composer_document(obj), sort_keys=False))
            try:
                self.runner.run(["gcloud", "composer", "environments", WORKLOAD_GROUP[kind], verb, *self.where(),
                                 f"{flag}={path}"], timeout=300)
            finally:
                if is_secret and not self.runner.dry_run:
                    path.unlink(missing_ok=True)  # secret values stay on disk no longer than the call
            if not self.runner.dry_run:
                if verb == "create":
                    made.record(kind, obj.name)
                if is_secret:
                    made.written[obj.name] = digest(obj.data)
                made.save()
            outcome[f"{kind}/{obj.name}"] = "created" if verb == "create" else "updated"
        wanted = {(type(obj).__name__, obj.name) for obj in projects}
        for kind, name in made.dropped(wanted):
            self.runner.say(f"    {kind}/{name}: made by this tool for a project no longer in the settings: "
                            "deleting it")
            self.delete_made(made, kind, name, "up")
            outcome[f"{kind}/{name}"] = "deleted"
        return outcome

    def made_workloads(self) -> MadeWorkloads:
        return MadeWorkloads.load(self.state_dir() / "workloads.json")

    def delete_made(self, made: MadeWorkloads, kind: str, name: str, command: str) -> None:
        """Delete a user-workloads object this machine made (already gone counts as deleted) and forget it."""
        deleted = self.runner.run(["gcloud", "composer", "environments", WORKLOAD_GROUP[kind], "delete", name,
                                   *self.where(), "--quiet"], timeout=300, check=False)
        if not deleted.ok and "NOT_FOUND" not in deleted.stderr:
            raise UserError(f"deleting the user-workloads {kind} {name} failed: {deleted.stderr.strip()[-200:]}",
                            f"check your access to the environment, then run `{command}` again")
        if not self.runner.dry_run:
            made.forget(kind, name)
            made.save()

    def variables_differing(self, env: dict[str, Any]) -> list[str]:
        """The task facts (AUTOMATION_*) the environment does not hold as the settings say."""
        current = software_config(env).get("envVariables") or {}
        return sorted(k for k, v in self.task_env().items() if current.get(k) != v)

    def ensure_env_variables(self, env: dict[str, Any]) -> str:
        if not self.variables_differing(env):
            self.runner.ok("environment variables already set")
            return "unchanged"
        pairs = ",".join(f"{k}={v}" for k, v in sorted(self.task_env().items()))
        # An environment update takes minutes: it runs only when a value differs.
        self.runner.run([*self._env_cmd("update"), f"--update-env-variables={pairs}"], timeout=3600,
                        stream=True, heartbeat=30)
        return "updated"

    def sync_dags(self) -> None:
        """dags/ mirrored into the environment's bucket (dags/): changed files uploaded, deleted ones removed,
        `.airflowignore` included (without it the dag-processor parses the task scripts as DAG files)."""
        dags = self.target.path("dags")
        if not dags.is_dir():
            raise UserError(f"DAG folder {dags} does not exist", "run from the repository root")
        self.runner.run(rsync_command(dags, self.code_root(), self.composer.project, mirror=True,
                                      keep=(COMPOSER_MONITORING_DAG,)), timeout=600)

    def upload_inputs(self) -> None:
        """Each project's data/PROJECT/input to the data bucket, as the rehearsal seeds it: what is there already
        is never overwritten (outputs and edits made in the bucket stay)."""
        data_root = self.target.data_root.rstrip("/")
        for project in self.target.projects:
            inputs = self.target.path("data") / project / SEEDED_INPUT
            if not inputs.is_dir():
                continue
            self.runner.run(rsync_command(inputs, f"{data_root}/{project}/{SEEDED_INPUT}", self.composer.project,
                                          no_clobber=True), timeout=1800)

    # -- down --purge ---------------------------------------------------------------------------------------------
    def purge_all(self) -> None:
        """What `up` made on the environment, and only that: the user-workloads ConfigMaps and Secrets it created
        (its record), the AUTOMATION_* variables, and the DAG files (the bucket's dags/ mirrored onto nothing,
        Composer's own monitoring DAG kept). The environment, its data bucket and what others made stay. The
        connections, variables and pools `up` marked are the caller's (lifecycle.down)."""
        env = self.environment()
        made = self.made_workloads()
        for kind, name in made.dropped(set()):
            self.delete_made(made, kind, name, "down --purge")
        ours = sorted(name for name in software_config(env).get("envVariables") or {} if name in self.task_env())
        if ours:
            self.runner.run([*self._env_cmd("update"), f"--remove-env-variables={','.join(ours)}"], timeout=3600,
                            stream=True, heartbeat=30)
        else:
            self.runner.ok("no AUTOMATION_* environment variable set")
        with tempfile.TemporaryDirectory(prefix="automation-empty-") as empty:
            self.runner.run(rsync_command(Path(empty), self.code_root(), self.composer.project, mirror=True,
                                          keep=(COMPOSER_MONITORING_DAG,)), timeout=600)

    # -- down, status --------------------------------------------------------------------------------------------
    def uninstall(self) -> None:
        """Composer environments are not stopped by this tool."""

    def cluster_summary(self) -> str:
        c = self.composer
        return f"Composer {c.project}/{c.region}/{c.environment}"

    def mounts_summary(self) -> str:
        return f"DAGs mirrored into {self.code_root()}; data under {self.target.data_root} (no volumes)"


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

    def manifests(self) -> list[dict[str, Any]]:
        return []

    def apply(self) -> str:
        changed = self.provider.ensure_env_variables(self.provider.environment())
        self.provider.sync_dags()
        self.provider.upload_inputs()
        return changed


class ComposerDeployer:
    """Google runs Airflow: `up` updates the environment and reads the URL it serves."""

    # Reached at the environment's airflowUri, through Google's sign-in: nothing to forward.
    ui_forward = None

    def __init__(self, provider: ComposerProvider):
        self.provider = provider
        self._endpoint: Endpoint | None = None

    def api_endpoint(self) -> Endpoint | None:
        """The environment's airflowUri, signed in with the user's Google access token (Composer's Airflow API
        authenticates Google identities, not Airflow users). None in a dry run that cannot read either."""
        if self._endpoint is not None:
            return self._endpoint
        provider = self.provider
        uri = str((provider.environment().get("config") or {}).get("airflowUri") or "")
        if not uri:
            if provider.runner.dry_run:
                return None
            raise UserError(f"Composer environment {provider.composer.environment} shows no airflowUri",
                            "wait until the environment is RUNNING, then run the command again")
        credentials = google_credentials(provider.runner)
        if credentials is None:
            return None
        self._endpoint = Endpoint(uri, credentials)
        return self._endpoint

    def prepare(self, options: UpOptions) -> EnvironmentUpdate:
        return EnvironmentUpdate(self.provider)

    def wait_and_open(self, options: UpOptions, report: dict[str, Any]) -> str:
        return self.open_ui(options.port)

    def status_rows(self) -> dict[str, str]:
        return composer_rows(self.provider)

    def open_ui(self, port: int | None) -> str:
        """Google serves the UI at the environment's airflowUri: nothing to open."""
        return str(((self.provider.environment().get("config") or {}).get("airflowUri"))
                   or "(the environment's Airflow URI)")


def _unchanged(described: str, obj: ConfigMap | Secret, made: MadeWorkloads) -> bool:
    """A ConfigMap whose data Composer shows back equal; a Secret with the same keys (Composer clears the values
    it shows) whose data this machine wrote last."""
    try:
        shown = json.loads(described or "{}").get("data") or {}
    except ValueError:
        return False
    if isinstance(obj, Secret):
        return set(shown) == set(obj.data) and made.written.get(obj.name) == digest(obj.data)
    return bool(shown == obj.data)
