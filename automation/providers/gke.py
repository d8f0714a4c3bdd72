"""GKE: the shared Helm flow, with Cloud Storage buckets (GCS Fuse CSI) behind the same claims as locally,
Workload Identity for Airflow and the task pods, and logs in a bucket.

Nothing here needs credentials in a dry run: the plan shows everything a first run would do.
"""

from __future__ import annotations

from typing import Any

from automation.core.errors import UserError
from automation.k8s import airflow_secrets
from automation.k8s.apply import ensure
from automation.k8s.cluster import ClusterState, LiveCluster, Unreachable
from automation.k8s.objects import Secret, StaticVolume, meta
from automation.providers.base import Provider, read_only_dags_values
from automation.providers.gke_cloud import WI_ANNOTATION
from automation.settings.contract import (
    CLOUD_POD_START_CHECK_SECONDS,
    DAGS_CLAIM,
    DATA_CLAIM,
    GCSFUSE_ANNOTATION,
    GID,
    UID,
)
from automation.settings.model import Gke
from automation.storage.gcloud_rsync import rsync_command

GCSFUSE_DRIVER = "gcsfuse.csi.storage.gke.io"
GCSFUSE_STORAGE_CLASS = "airflow-gcsfuse"  # any name: static binding through volumeName, no provisioner

# Chart components that read or write GCS (logs, DAG claim) and so run as the Google service account; the two
# jobs mount the DAG claim too.
CHART_SERVICE_ACCOUNTS = ("scheduler", "workers", "apiServer", "dagProcessor", "triggerer", "createUserJob",
                          "migrateDatabaseJob")
LOGIN_KEY = "password"
UI_PASSWORD_ENV = "AUTOMATION_UI_PASSWORD"


def gcs_volume(namespace: str, claim: str, bucket: str, size: str, read_only: bool) -> StaticVolume:
    """A claim over a bucket (GCS Fuse CSI), named as on local targets. Files appear owned by Airflow's uid,
    as on the local mounts; implicit-dirs shows folders that exist only as object prefixes."""
    return StaticVolume(
        claim, namespace, size,
        source={"csi": {"driver": GCSFUSE_DRIVER, "volumeHandle": bucket, "readOnly": read_only}},
        access_mode="ReadOnlyMany" if read_only else "ReadWriteMany",
        storage_class=GCSFUSE_STORAGE_CLASS,
        mount_options=("implicit-dirs", f"uid={UID}", f"gid={GID}", "file-mode=0664", "dir-mode=0775"),
    )


class GkeProvider(Provider):
    kind = "gke"
    binaries = ("gcloud", "kubectl", "helm")

    @property
    def gke(self) -> Gke:
        assert self.target.gke is not None
        return self.target.gke

    def context(self) -> str | None:
        # The name `gcloud container clusters get-credentials` gives the context it writes.
        return f"gke_{self.gke.project}_{self.gke.region}_{self.gke.cluster}"

    def check_resources(self) -> None:
        missing = [f"gke.{k}" for k in ("dags_bucket", "data_bucket", "logs_bucket", "google_service_account")
                   if not getattr(self.gke, k)]
        if missing:
            raise UserError(f"target {self.target.name}: {', '.join(missing)} not set",
                            "set them in a settings overlay (docs/how-to/gke.md)")

    def ensure_cluster(self) -> None:
        gke = self.gke
        # It writes this machine's kubeconfig only: a server dry run needs it to reach the cluster.
        self.runner.run(["gcloud", "container", "clusters", "get-credentials", gke.cluster,
                         "--region", gke.region, "--project", gke.project], mutates=not self.runner.server_dry_run,
                        timeout=120, fix=f"check `gcloud auth login` and the gke block of the target; a missing "
                        f"cluster is created once with `gcloud container clusters create-auto {gke.cluster} "
                        f"--region {gke.region} --project {gke.project}`")

    # -- what the target needs ---------------------------------------------------------------------------------
    def volumes(self) -> list[StaticVolume]:
        gke, ns = self.gke, self.target.namespace
        return [gcs_volume(ns, DAGS_CLAIM, gke.dags_bucket, "1Gi", read_only=True),
                gcs_volume(ns, DATA_CLAIM, gke.data_bucket, "10Gi", read_only=False)]

    def task_pod_facts(self) -> Any:
        """Task pods run as the Workload Identity service account, and carry the GCS Fuse annotation without
        which their bucket-backed claims never mount."""
        from dataclasses import replace

        return replace(super().task_pod_facts(), service_account=self.gke.kubernetes_service_account,
                       pod_annotations={GCSFUSE_ANNOTATION: "true"},
                       pod_start_check_seconds=CLOUD_POD_START_CHECK_SECONDS)

    def chart_values(self) -> dict[str, Any]:
        """Values only settings can give: the logs bucket, the Google service account and the UI login."""
        gke = self.gke
        values = super().chart_values()
        values.update(read_only_dags_values())
        values["airflowPodAnnotations"] = {GCSFUSE_ANNOTATION: "true"}
        values["createUserJob"] = self.login_job()
        remote = self.target.logs.remote_base or (f"gs://{gke.logs_bucket}/logs" if gke.logs_bucket else "")
        if remote:
            values["config"] = {"logging": {"remote_logging": "True", "remote_base_log_folder": remote,
                                            "remote_log_conn_id": "google_cloud_default"}}
        if gke.google_service_account:
            for component in CHART_SERVICE_ACCOUNTS:
                account = {"serviceAccount": {"annotations": {WI_ANNOTATION: gke.google_service_account}}}
                values[component] = {**values.get(component, {}), **account}
        return values

    def login_job(self) -> dict[str, Any]:
        # The password is read from its Secret inside the job, so it is in no Helm value, release or output.
        login = self.target.login
        return {
            "defaultUser": {"username": login.username},
            "env": [{"name": UI_PASSWORD_ENV,
                     "valueFrom": {"secretKeyRef": {"name": airflow_secrets.login_secret_name(self.target),
                                                    "key": LOGIN_KEY}}}],
            "args": ["bash", "-c", f'exec airflow users create "$@" -p "${UI_PASSWORD_ENV}"', "--",
                     "-r", "Admin", "-u", login.username, "-e", f"{login.username}@example.com",
                     "-f", login.username, "-l", "user"],
        }

    def task_service_account(self) -> dict[str, Any]:
        gke = self.gke
        metadata = meta(gke.kubernetes_service_account, self.target.namespace)
        if gke.google_service_account:
            metadata["annotations"] = {WI_ANNOTATION: gke.google_service_account}
        return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": metadata}

    def extra_objects(self) -> list[dict[str, Any]]:
        return [self.task_service_account()]

    def output_location(self, project: str, output: str) -> str:
        # Task pods see the data bucket at data_root through the claim; this machine reads the bucket itself.
        return f"gs://{self.gke.data_bucket}/{project}/{output}"

    # -- up ------------------------------------------------------------------------------------------------------
    def ensure_objects(self, projects: list[Any]) -> dict[str, str]:
        # The buckets first: the claims over them are applied with the shared objects.
        with self.runner.step("DAGs and data to Cloud Storage"):
            self.sync_buckets()
        return super().ensure_objects(projects)

    def ensure_extra(self, state: ClusterState) -> dict[str, str]:
        outcome: dict[str, str] = {}
        with self.runner.step("GKE: task service account (Workload Identity)"):
            for manifest in self.extra_objects():
                outcome[f"{manifest['kind']}/{manifest['metadata']['name']}"] = ensure(self.runner, state, manifest)
        with self.runner.step("UI login (made once, never regenerated)"):
            outcome["login-secret"] = self.ensure_login(state)
        return outcome

    def sync_buckets(self) -> None:
        gke = self.gke
        dags = self.target.path("dags")
        data = self.target.path("data")
        # DAGs mirror the repository (deleted files go); data only gains files: outputs stay in the bucket.
        self.runner.run(rsync_command(dags, f"gs://{gke.dags_bucket}", gke.project, mirror=True), timeout=600)
        if data.is_dir():
            self.runner.run(rsync_command(data, f"gs://{gke.data_bucket}", gke.project,
                                          skip_folders=("output", "work")), timeout=1800)

    def ensure_login(self, state: ClusterState) -> str:
        name = airflow_secrets.login_secret_name(self.target)
        current = airflow_secrets.decode(state.get("Secret", name, self.target.namespace))
        if current.get(LOGIN_KEY):
            self.runner.ok(f"Secret/{name} present: kept as is")
            return "unchanged"
        password = airflow_secrets.generate(LOGIN_KEY)
        login = Secret(name, self.target.namespace, {"username": self.target.login.username, LOGIN_KEY: password})
        return ensure(self.runner, state, login.render(), create_only=True)

    # -- down, status --------------------------------------------------------------------------------------------
    def purge(self, state: ClusterState) -> None:
        for volume in self.volumes():
            self.runner.plan(f"delete PersistentVolume/{volume.pv_name} (the bucket is kept)")
            if isinstance(state, LiveCluster) and not self.runner.dry_run:
                state.delete("PersistentVolume", volume.pv_name)

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
