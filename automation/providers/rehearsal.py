"""The Composer rehearsal: Cloud Composer 3's task contract on a cluster we can reach.

Airflow comes from the chart (the existing-cluster provider's way), at the Airflow version of the rehearsed
Composer image, with Composer's executor: Celery workers and a Redis broker (an image built here). Task pods get
what they get on Composer: namespace composer-user-workloads, no volumes, the project's ConfigMap and Secret
there, task code and data in gs:// buckets of the same names, served by a GCS emulator in the cluster. The
workers start them as Composer's do: through the kubeconfig file at Composer's path, whose identity may run pods
in composer-user-workloads and nowhere else (KubeConfigIdentity). README "Parity between targets" lists what
still differs from Composer.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from automation.core.errors import UserError
from automation.core.paths import REPO_ROOT
from automation.core.versions import VERSIONS
from automation.k8s import airflow_secrets
from automation.k8s.cluster import ClusterState, LiveCluster
from automation.k8s.objects import ConfigMap, GcsEmulator, KubeConfigIdentity, StaticVolume, service_url
from automation.k8s.port_forward import PortForward, pick_port
from automation.providers.base import PodRule
from automation.providers.composer_pod_rules import lint_pod
from automation.providers.existing import ExistingProvider
from automation.settings.contract import (
    CLOUD_POD_START_CHECK_SECONDS,
    COMPOSER_KUBE_CONFIG,
    COMPOSER_NAMESPACE,
    DAGS_CLAIM,
    GCS_EMULATOR,
    GCS_EMULATOR_PORT,
    LOGS_CLAIM,
    SEEDED_INPUT,
    emulator_env,
)
from automation.settings.model import Composer, Mounts
from automation.storage.buckets import Buckets, environment

# Composer's API sign-in (a Google access token), rehearsed by an auth manager mounted into Airflow's config
# folder, which Airflow puts on sys.path (helm/composer-rehearsal/composer_auth.py).
AUTH_MODULE = REPO_ROOT / "helm/composer-rehearsal/composer_auth.py"
AUTH_MANAGER = "composer_auth.GoogleTokenAuthManager"
AUTH_CONFIG_MAP = "composer-auth"
TOKENINFO_URL_ENV = "COMPOSER_REHEARSAL_TOKENINFO_URL"
# The identity of the workers' kubeconfig file (Composer's path): it may run pods in composer-user-workloads only.
TASK_LAUNCHER = "composer-task-launcher"
REDIS = "redis"
# The emulator answers this listing when it is up (readiness probe and port-forward check alike).
EMULATOR_HEALTH = "/storage/v1/b"
EMULATOR_LOCAL_PORT = 9023


class ComposerRehearsalProvider(ExistingProvider):
    kind = "composer-rehearsal"
    tool_images = (GCS_EMULATOR, REDIS)
    api_sign_in = "google"

    def pod_rules(self) -> list[PodRule]:
        return [lint_pod]  # its task pods rehearse Composer 3's

    @property
    def composer(self) -> Composer:
        assert self.target.composer is not None
        return self.target.composer

    def host_mounts(self) -> Mounts | None:
        """Airflow's own claims sit on this machine's folders; task pods read the buckets, as on Composer."""
        return None

    @property
    def mounts(self) -> Mounts:
        assert self.target.mounts is not None  # the settings loader requires them for this provider
        return self.target.mounts

    def airflow_version(self) -> str:
        """An explicit airflow_version first (CI runs the pinned one too), else the rehearsed image's."""
        return self.target.airflow_version or self.composer.airflow_version or VERSIONS.airflow

    def check_resources(self) -> None:
        target, composer = self.target, self.composer
        if target.namespace == COMPOSER_NAMESPACE:
            raise UserError(f"targets.{target.name}.namespace is {COMPOSER_NAMESPACE}: that namespace is for task "
                            "pods; Airflow itself needs another", "set namespace: airflow")
        for key in ("environment_bucket", "data_bucket"):
            if not getattr(composer, key):
                raise UserError(f"targets.{target.name}: composer.{key} is empty (taken from targets."
                                f"{target.rehearses or target.name})", f"set composer.{key} on the Composer target")

    # -- what the target needs ---------------------------------------------------------------------------------
    @staticmethod
    def _bucket(name: str) -> str:
        return name.removeprefix("gs://").strip("/")

    def emulator(self) -> GcsEmulator:
        return GcsEmulator(GCS_EMULATOR, self.target.namespace, self.tool_image(GCS_EMULATOR), GCS_EMULATOR_PORT)

    def task_launcher(self) -> KubeConfigIdentity:
        return KubeConfigIdentity(TASK_LAUNCHER, self.target.namespace, COMPOSER_NAMESPACE, COMPOSER_KUBE_CONFIG)

    def chart_values(self) -> dict[str, Any]:
        """Composer's executor: Celery workers (the kubeconfig file mounted at Composer's path) and their Redis
        broker, from the image built here, its password and URL in a Secret made once (ensure_airflow_secrets)."""
        values = super().chart_values()
        broker = airflow_secrets.broker_secret_name(self.target)
        repository, _, tag = self.tool_image(REDIS).rpartition(":")
        launcher = self.task_launcher()
        values["images"] = {"redis": {"repository": repository, "tag": tag, "pullPolicy": "IfNotPresent"}}
        values["redis"] = {"enabled": True, "passwordSecretName": broker, "persistence": {"enabled": False},
                           "terminationGracePeriodSeconds": 30}
        values["data"] = {**values.get("data", {}), "brokerUrlSecretName": broker}
        # Workers start task pods through that file only: their own account may not (Composer's may not either).
        values["allowPodLaunching"] = False
        values["workers"] = {"replicas": 1, "persistence": {"enabled": False}, "terminationGracePeriodSeconds": 60,
                             "extraVolumes": launcher.volumes(), "extraVolumeMounts": launcher.volume_mounts()}
        # worker_concurrency stays Airflow's default (16): Composer 3 documents a range (1 to 24), not its default
        # (https://cloud.google.com/composer/docs/airflow-configurations). Composer's sign-in for every Airflow
        # component (any of them may load the auth manager).
        values.setdefault("config", {})["core"] = {"auth_manager": AUTH_MANAGER}
        # Added to the global volumes, which already carry the read-only DAGs claim.
        values["volumes"] = [*values.get("volumes", []), {"name": AUTH_CONFIG_MAP,
                                                           "configMap": {"name": AUTH_CONFIG_MAP}}]
        # A file mounted by subPath is never refreshed in a running pod: an edited module rolls the components.
        digest = hashlib.sha256(AUTH_MODULE.read_bytes()).hexdigest()[:16]
        values["airflowPodAnnotations"] = {f"{AUTH_CONFIG_MAP}/sha256": digest}
        values["volumeMounts"] = [*values.get("volumeMounts", []),
                                  {"name": AUTH_CONFIG_MAP, "mountPath": f"/opt/airflow/config/{AUTH_MODULE.name}",
                                   "subPath": AUTH_MODULE.name, "readOnly": True}]
        if self.target.tokeninfo_url:
            values["env"] = [*values["env"], {"name": TOKENINFO_URL_ENV, "value": self.target.tokeninfo_url}]
        return values

    def task_pod_facts(self) -> Any:
        """Composer's facts (its namespace, no claims, buckets for code and data, its kubeconfig file), plus the
        emulator."""
        return replace(super().task_pod_facts(), namespace=COMPOSER_NAMESPACE, dags_claim="", data_claim="",
                       kube_config_file=COMPOSER_KUBE_CONFIG, pod_start_check_seconds=CLOUD_POD_START_CHECK_SECONDS,
                       code_root=f"gs://{self._bucket(self.composer.environment_bucket)}/dags",
                       data_root=f"gs://{self._bucket(self.composer.data_bucket)}",
                       # The Service's address, not emulator(): that reads the image tag, needed only to deploy.
                       storage_emulator_host=service_url(GCS_EMULATOR, self.target.namespace, GCS_EMULATOR_PORT))

    def volumes(self) -> list[StaticVolume]:
        """Airflow's own: logs, and the DAG folder its components parse (Composer syncs its bucket to them)."""
        return [v for v in super().volumes() if v.name in (LOGS_CLAIM, DAGS_CLAIM)]

    def node_folders(self) -> list[str]:
        return [self.target.logs.node_path]

    def extra_objects(self) -> list[dict[str, Any]]:
        auth = ConfigMap(AUTH_CONFIG_MAP, self.target.namespace, {AUTH_MODULE.name: AUTH_MODULE.read_text()})
        return [*self.task_launcher().render(), auth.render(), *self.emulator().render()]

    def output_location(self, project: str, output: str) -> str:
        return f"{self.task_pod_facts().data_root}/{project}/{output}"

    # -- up ------------------------------------------------------------------------------------------------------
    def ensure_extra(self, state: ClusterState) -> dict[str, str]:
        outcome = super().ensure_extra(state)
        with self.runner.step("GCS emulator ready, buckets seeded (environment bucket dags/, data inputs)"):
            self.wait_emulator(state)
            with self.storage():
                outcome.update(self.seed())
        return outcome

    def wait_emulator(self, state: ClusterState, timeout: float = 180) -> None:
        if not isinstance(state, LiveCluster) or self.runner.dry_run:
            return
        wanted = self.emulator().render()[0]["spec"]["template"]["spec"]["containers"][0]
        deadline = time.monotonic() + timeout
        while True:
            deployment = state.get("Deployment", GCS_EMULATOR, self.target.namespace) or {}
            status = deployment.get("status") or {}
            if (status.get("readyReplicas") or 0) >= 1 and status.get("updatedReplicas") == status.get("replicas"):
                self.runner.ok(f"Deployment/{GCS_EMULATOR} ready")
                return
            for pod in state.list("Pod", self.target.namespace, f"app.kubernetes.io/name={GCS_EMULATOR}"):
                current = ((pod.get("spec") or {}).get("containers") or [{}])[0]
                if (current.get("image"), current.get("command")) != (wanted["image"], wanted["command"]):
                    continue  # a pod of the previous version, on its way out
                for container in (pod.get("status") or {}).get("containerStatuses") or []:
                    if (container.get("restartCount") or 0) >= 2:
                        log = state.pod_log(pod["metadata"]["name"], self.target.namespace, tail=5).strip()
                        raise UserError(f"the GCS emulator keeps exiting: {log.splitlines()[-1] if log else '?'}",
                                        f"kubectl -n {self.target.namespace} logs deploy/{GCS_EMULATOR}")
            if time.monotonic() > deadline:
                raise UserError(f"the GCS emulator did not become ready within {timeout:.0f}s",
                                f"kubectl -n {self.target.namespace} describe deployment {GCS_EMULATOR}")
            time.sleep(1)

    def seed(self) -> dict[str, str]:
        """The buckets as a fresh Composer environment would have them once the DAGs are imported and the
        inputs uploaded: the same names as on Composer."""
        buckets = Buckets(self.runner)
        outcome = {}
        for bucket in (self.composer.environment_bucket, self.composer.data_bucket):
            outcome[f"bucket/{self._bucket(bucket)}"] = buckets.ensure_bucket(self._bucket(bucket))
        outcome["task-code"] = str(self.sync_code(buckets))
        data_root = self.task_pod_facts().data_root
        for project in self.target.projects:
            inputs = self.target.path(self.mounts.data.host) / project / SEEDED_INPUT
            if inputs.is_dir():
                report = buckets.sync(inputs, f"{data_root}/{project}/{SEEDED_INPUT}", replace=False)
                self.runner.ok(f"{project}/{SEEDED_INPUT}: {report}")
                outcome[f"inputs/{project}"] = str(report)
        return outcome

    def sync_code(self, buckets: Buckets) -> Any:
        code_root = self.task_pod_facts().code_root
        report = buckets.sync(self.target.path(self.mounts.dags.host), code_root)
        self.runner.ok(f"DAG folder -> {code_root}: {report}")
        return report

    def emulator_forward(self) -> PortForward:
        assert self.cluster is not None  # provider_for gives every Helm target its cluster
        return PortForward(GCS_EMULATOR, self.state_dir(), tuple(self.cluster.kubectl_args()), self.target.namespace,
                           GCS_EMULATOR, remote_port=GCS_EMULATOR_PORT, health_path=EMULATOR_HEALTH)

    @contextmanager
    def storage(self) -> Iterator[None]:
        """gs:// from this machine reaches the emulator, through a supervised port-forward left running."""
        if self.runner.dry_run:
            self.runner.plan(f"port-forward svc/{GCS_EMULATOR} to localhost (gs:// from this machine)")
            yield
            return
        forward = self.emulator_forward()
        url = forward.healthy_url() or forward.start(
            self.runner, pick_port(EMULATOR_LOCAL_PORT, explicit=False),
            fix=f"kubectl -n {self.target.namespace} logs deploy/{GCS_EMULATOR}")
        with environment(emulator_env(url.replace("localhost", "127.0.0.1"))):
            yield

    def before_run(self) -> None:
        """An edited task script is what the next run uses, as locally: the DAG folder into the bucket."""
        with self.runner.step(f"task code into {self.task_pod_facts().code_root}"), self.storage():
            self.sync_code(Buckets(self.runner))

    # -- down ----------------------------------------------------------------------------------------------------
    def uninstall(self) -> None:
        self.emulator_forward().stop(self.runner)
        super().uninstall()

    def purge(self, state: ClusterState) -> None:
        super().purge(state)
        self.delete_namespace(state, COMPOSER_NAMESPACE)

    def mounts_summary(self) -> str:
        return (f"Airflow: {super().mounts_summary()}; task pods: none (code {self.task_pod_facts().code_root}, "
                f"data {self.task_pod_facts().data_root}, GCS emulator)")
