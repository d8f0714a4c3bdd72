"""Google Cloud targets: GKE (the shared Helm flow, with GCS buckets behind the usual claims) and Cloud
Composer 3 (its own flow through gcloud: Composer owns Airflow, we only hand it DAGs, config and secrets).

Nothing here needs credentials in a dry run: every gcloud read that fails counts as "absent", so the plan
shows everything a first run would do.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

from automation import desired, prereqs, secrets
from automation.errors import UserError
from automation.kube import ClusterState, LiveCluster, Unreachable, ensure
from automation.manifests import ConfigMap, Secret, _meta
from automation.providers import Provider, state_dir
from automation.runner import Runner
from automation.settings import Composer, Gke, Target

GCSFUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
# The GCS Fuse CSI driver injects its sidecar only into pods carrying this annotation.
GCSFUSE_ANNOTATION = {"gke-gcsfuse/volumes": "true"}
WI_ANNOTATION = "iam.gke.io/gcp-service-account"
COMPOSER_NAMESPACE = "composer-user-workloads"
# Chart components that read or write GCS (logs, DAG claim) and so run as the Google service account.
CHART_SERVICE_ACCOUNTS = ("scheduler", "workers", "apiServer", "dagProcessor", "triggerer")
LOGIN_KEY = "password"
UI_PASSWORD_ENV = "AUTOMATION_UI_PASSWORD"


def _gke(target: Target) -> Gke:
    assert target.gke is not None
    return target.gke


def _composer(target: Target) -> Composer:
    assert target.composer is not None
    return target.composer


# -- GKE ---------------------------------------------------------------------------------------------------


def gke_task_env(target: Target) -> dict[str, str]:
    """What DAG helpers need beyond the local facts: the task pods' service account and the GCS Fuse
    annotation, without which the claims' buckets cannot be mounted."""
    return {
        "AUTOMATION_SERVICE_ACCOUNT": _gke(target).kubernetes_service_account,
        "AUTOMATION_POD_ANNOTATIONS": json.dumps(GCSFUSE_ANNOTATION, sort_keys=True),
    }


def gke_chart_values(target: Target) -> dict[str, Any]:
    """Values only settings can give: the logs bucket, the Google service account and the UI login."""
    gke = _gke(target)
    values: dict[str, Any] = {
        "airflowPodAnnotations": dict(GCSFUSE_ANNOTATION),
        # The chart mounts a DAG claim read-write; ours goes through the global volumes to stay read-only.
        "volumes": [{"name": "dags-ro",
                     "persistentVolumeClaim": {"claimName": desired.DAGS_CLAIM, "readOnly": True}}],
        "volumeMounts": [{"name": "dags-ro", "mountPath": desired.DAGS_PATH, "readOnly": True}],
        "createUserJob": _login_job(target),
    }
    remote = target.logs.remote_base or (f"gs://{gke.logs_bucket}/logs" if gke.logs_bucket else "")
    if remote:
        values["config"] = {"logging": {"remote_logging": "True", "remote_base_log_folder": remote,
                                        "remote_log_conn_id": "google_cloud_default"}}
    if gke.google_service_account:
        for component in CHART_SERVICE_ACCOUNTS:
            values[component] = {"serviceAccount": {"annotations": {WI_ANNOTATION: gke.google_service_account}}}
    return values


def _login_job(target: Target) -> dict[str, Any]:
    # The password is read from its Secret inside the job, so it is in no Helm value, release or output.
    login = target.login
    return {
        "defaultUser": {"username": login.username},
        "env": [{"name": UI_PASSWORD_ENV,
                 "valueFrom": {"secretKeyRef": {"name": secrets.login_secret_name(target), "key": LOGIN_KEY}}}],
        "args": ["bash", "-c", f'exec airflow users create "$@" -p "${UI_PASSWORD_ENV}"', "--",
                 "-r", "Admin", "-u", login.username, "-e", f"{login.username}@example.com",
                 "-f", login.username, "-l", "user"],
    }


def gcs_volume(target: Target, claim: str, bucket: str, size: str, read_only: bool) -> list[dict[str, Any]]:
    """A PersistentVolume over a bucket (GCS Fuse CSI) and the claim bound to it, named as on local targets."""
    pv_name = f"{target.namespace}-{claim}"
    mode = "ReadOnlyMany" if read_only else "ReadWriteMany"
    storage_class = "airflow-gcsfuse"  # any name: static binding through volumeName, no provisioner
    pv = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": _meta(pv_name),
        "spec": {
            "capacity": {"storage": size},
            "accessModes": [mode],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": storage_class,
            # Files appear owned by Airflow's uid, as on the local mounts; implicit-dirs shows folders that
            # exist only as object prefixes.
            "mountOptions": ["implicit-dirs", "uid=50000", "gid=0", "file-mode=0664", "dir-mode=0775"],
            "csi": {"driver": GCSFUSE_DRIVER, "volumeHandle": bucket, "readOnly": read_only},
            "claimRef": {"namespace": target.namespace, "name": claim},
        },
    }
    pvc = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": _meta(claim, target.namespace),
        "spec": {
            "accessModes": [mode],
            "storageClassName": storage_class,
            "volumeName": pv_name,
            "resources": {"requests": {"storage": size}},
        },
    }
    return [pv, pvc]


def task_service_account(target: Target) -> dict[str, Any]:
    gke = _gke(target)
    meta = _meta(gke.kubernetes_service_account, target.namespace)
    if gke.google_service_account:
        meta["annotations"] = {WI_ANNOTATION: gke.google_service_account}
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta}


class GkeProvider(Provider):
    binaries = ("gcloud", "kubectl", "helm")

    @property
    def gke(self) -> Gke:
        return _gke(self.target)

    def context(self) -> str | None:
        # The name `gcloud container clusters get-credentials` gives the context it writes.
        return f"gke_{self.gke.project}_{self.gke.region}_{self.gke.cluster}"

    def check_resources(self) -> None:
        """Settings a GKE target cannot run without, refused before anything changes."""
        missing = [f"gke.{k}" for k in ("dags_bucket", "data_bucket", "logs_bucket", "google_service_account")
                   if not getattr(self.gke, k)]
        if missing:
            raise UserError(f"target {self.target.name}: {', '.join(missing)} not set",
                            "set them in a settings overlay (README: Deploying to GKE)")

    def manifests(self) -> list[dict[str, Any]]:
        gke = self.gke
        return [
            task_service_account(self.target),
            *gcs_volume(self.target, desired.DAGS_CLAIM, gke.dags_bucket, "1Gi", read_only=True),
            *gcs_volume(self.target, desired.DATA_CLAIM, gke.data_bucket, "10Gi", read_only=False),
        ]

    def ensure_cluster(self) -> None:
        gke = self.gke
        self.runner.run(["gcloud", "container", "clusters", "get-credentials", gke.cluster,
                         "--region", gke.region, "--project", gke.project],
                        timeout=120, fix="check `gcloud auth login` and the gke block of the target")

    def ensure_objects(self, state: ClusterState) -> dict[str, str]:
        """GKE's own objects, after the shared ones: buckets' content, claims over them, the task service
        account and the UI login."""
        outcome: dict[str, str] = {}
        with self.runner.step("DAGs and data to Cloud Storage"):
            self.sync_buckets()
        with self.runner.step("GKE: task service account (Workload Identity), GCS Fuse volumes"):
            for manifest in self.manifests():
                outcome[f"{manifest['kind']}/{manifest['metadata']['name']}"] = ensure(self.runner, state, manifest)
        with self.runner.step("UI login (made once, never regenerated)"):
            outcome["login-secret"] = self.ensure_login(state)
        return outcome

    def sync_buckets(self) -> None:
        gke = self.gke
        dags = self.target.path("dags")
        data = self.target.path("data")
        # DAGs mirror the repository (deleted files go); data only gains files: outputs stay in the bucket.
        self.runner.run(["gcloud", "storage", "rsync", str(dags), f"gs://{gke.dags_bucket}", "--recursive",
                         "--delete-unmatched-destination-objects", r"--exclude=(^|.*/)__pycache__/.*",
                         "--project", gke.project], timeout=600)
        if data.is_dir():
            self.runner.run(["gcloud", "storage", "rsync", str(data), f"gs://{gke.data_bucket}", "--recursive",
                             r"--exclude=(^|.*/)(output|work)/.*", "--project", gke.project], timeout=1800)

    def ensure_login(self, state: ClusterState) -> str:
        name = secrets.login_secret_name(self.target)
        current = secrets.decode(state.get("Secret", name, self.target.namespace))
        if current.get(LOGIN_KEY):
            self.runner.ok(f"Secret/{name} present: kept as is")
            return "unchanged"
        password = secrets.generate(LOGIN_KEY)
        login = Secret(name, self.target.namespace, {"username": self.target.login.username, LOGIN_KEY: password})
        return ensure(self.runner, state, login.render(), create_only=True)

    def ensure_node_folders(self, state: ClusterState) -> None:
        """No node folders: logs go to Cloud Storage."""

    def stop(self) -> None:
        """The cluster is shared infrastructure: `down` removes the Airflow release only."""

    def purge(self, state: ClusterState) -> None:
        for manifest in self.manifests():
            if manifest["kind"] != "PersistentVolume":
                continue  # namespaced objects went with the namespace
            self.runner.plan(f"delete PersistentVolume/{manifest['metadata']['name']} (the bucket is kept)")
            if isinstance(state, LiveCluster) and not self.runner.dry_run:
                state.delete("PersistentVolume", manifest["metadata"]["name"])

    def cluster_summary(self) -> str:
        gke = self.gke
        state = self.state()
        where = f"GKE {gke.project}/{gke.region}/{gke.cluster}"
        if isinstance(state, Unreachable):
            return f"{where}: unreachable ({state.why})"
        return f"{where}: {state.api_client.configuration.host}"

    def mounts_summary(self) -> str:
        gke = self.gke
        return f"dags gs://{gke.dags_bucket} (read-only), data gs://{gke.data_bucket} (GCS Fuse)"


# -- Cloud Composer 3 --------------------------------------------------------------------------------------


class ComposerProvider(Provider):
    """Composer runs Airflow itself: no cluster access, no Helm. `up` is its own flow of gcloud commands."""

    binaries = ("gcloud",)

    @property
    def composer(self) -> Composer:
        return _composer(self.target)

    def _where(self) -> list[str]:
        c = self.composer
        return ["--environment", c.environment, "--location", c.region, "--project", c.project]

    def _env_cmd(self, *verb: str) -> list[str]:
        c = self.composer
        return ["gcloud", "composer", "environments", *verb, c.environment, "--location", c.region,
                "--project", c.project]

    def state(self) -> LiveCluster | Unreachable:
        return Unreachable("Composer's cluster is managed by Google: read it through gcloud")

    def manifests(self) -> list[dict[str, Any]]:
        return []

    def ensure_cluster(self) -> None:
        raise UserError("Composer environments are created once by hand", "see README: Cloud Composer 3")

    def ensure_node_folders(self, state: ClusterState) -> None:
        """Composer has no node folders."""

    def stop(self) -> None:
        """Composer environments are not stopped by this tool."""

    def purge(self, state: ClusterState) -> None:
        raise UserError("purging a Composer environment is not automated",
                        "delete it with `gcloud composer environments delete` if you mean to")

    def cluster_summary(self) -> str:
        c = self.composer
        return f"Composer {c.project}/{c.region}/{c.environment}"

    def mounts_summary(self) -> str:
        return "DAGs in the environment's bucket (gcloud composer environments storage dags)"

    def describe(self) -> dict[str, Any] | None:
        result = self.runner.try_read([*self._env_cmd("describe"), "--format=json"], timeout=120)
        if result is None:
            return None
        try:
            return dict(json.loads(result.stdout or "{}"))
        except ValueError:
            return None

    def up(self, options: Any) -> dict[str, Any]:
        from automation.lifecycle import dag_check, exclusive

        runner, target = self.runner, self.target
        report: dict[str, Any] = {"target": target.name}
        mode = " (dry run: nothing is changed)" if runner.dry_run else ""
        runner.say(f"up: target {target.name} (composer), namespace {COMPOSER_NAMESPACE}{mode}")
        if target.namespace != COMPOSER_NAMESPACE:
            raise UserError(f"targets.{target.name}.namespace is {target.namespace!r}: Composer 3 runs task pods "
                            f"in {COMPOSER_NAMESPACE} only", f"set namespace: {COMPOSER_NAMESPACE}")
        with exclusive(target, "up"):
            with runner.step("prerequisites"):
                prereqs.check(runner, self.binaries)
            with runner.step(f"Composer environment {self.composer.environment}"):
                env = self.describe()
                if env is None:
                    if not runner.dry_run:
                        raise UserError(f"Composer environment {self.composer.environment} not found or not "
                                        "readable", "check the composer block of the target and `gcloud auth login`")
                    runner.say("    warning: environment not readable (dry run: planning as if it were empty)")
                    env = {}
                else:
                    runner.ok(f"environment {self.composer.environment}: {env.get('state', '?')}")
            with runner.step(f"projects: {', '.join(target.projects) or 'none'}"):
                report["objects"] = self.ensure_workload_objects()
            with runner.step("Airflow environment variables (AUTOMATION_*)"):
                report["env"] = self.ensure_env_variables(env)
            if not options.skip_dags_check:
                with runner.step("DAG integrity (skip with --skip-dags-check)"):
                    dag_check(runner, target)
            with runner.step("DAGs and task scripts to the environment's bucket"):
                self.import_dags()
            url = ((env.get("config") or {}).get("airflowUri")) or "(the environment's Airflow URI)"
            report["url"] = url
        done = "Dry run complete: nothing was changed. A real run would serve" if runner.dry_run else "Airflow is up:"
        runner.say(f"\n{done} {url} (Google sign-in).")
        runner.say(f"Next: `nox -s images -- --target {target.name}`, then `nox -s e2e -- --target {target.name}`.")
        runner.say(f"Total {runner.elapsed().strip()}")
        return report

    def ensure_workload_objects(self) -> dict[str, str]:
        """Each project's ConfigMap and Secret from the same k8s/PROJECT files, through Composer's API."""
        outcome: dict[str, str] = {}
        folder = state_dir(self.target) / "workloads"
        for obj in secrets.project_objects(self.target):
            is_secret = isinstance(obj, Secret)
            group = "user-workloads-secrets" if is_secret else "user-workloads-config-maps"
            flag = "--secret-file-path" if is_secret else "--config-map-file-path"
            current = self.runner.try_read(["gcloud", "composer", "environments", group, "describe", obj.name,
                                            *self._where(), "--format=json"], timeout=120)
            if current is not None and isinstance(obj, ConfigMap) and _same_data(current.stdout, obj):
                self.runner.ok(f"ConfigMap/{obj.name} unchanged")
                outcome[f"ConfigMap/{obj.name}"] = "unchanged"
                continue
            verb = "update" if current is not None else "create"
            path = folder / f"{'secret' if is_secret else 'configmap'}-{obj.name}.yaml"
            if not self.runner.dry_run:
                _write_private(path, composer_document(obj))
            try:
                self.runner.run(["gcloud", "composer", "environments", group, verb, *self._where(),
                                 f"{flag}={path}"], timeout=300)
            finally:
                if is_secret and not self.runner.dry_run:
                    path.unlink(missing_ok=True)  # secret values stay on disk no longer than the call
            outcome[f"{type(obj).__name__}/{obj.name}"] = "created" if verb == "create" else "updated"
        return outcome

    def ensure_env_variables(self, env: dict[str, Any]) -> str:
        wanted = composer_env(self.target)
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


def composer_env(target: Target) -> dict[str, str]:
    """The task facts as Airflow environment variables; gcloud's KEY=VALUE list cannot hold empty values."""
    env = desired.task_env(target)
    env["AUTOMATION_NAMESPACE"] = COMPOSER_NAMESPACE
    return {k: v for k, v in env.items() if v}


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


def _write_private(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        yaml.safe_dump(doc, handle, sort_keys=False)


def _inside_cwd(path: Path) -> bool:
    try:
        path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return False
    return True


def cloud_provider(runner: Runner, target: Target) -> Provider:
    if target.provider == "gke":
        return GkeProvider(runner, target)
    if target.provider == "composer":
        return ComposerProvider(runner, target)
    raise UserError(f"provider {target.provider!r} is not a cloud provider")

