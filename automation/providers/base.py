"""The provider interface: every hook a lifecycle step calls, each with its default.

The defaults describe the common case, Airflow deployed by the official chart on a cluster we can reach;
`minikube`, `existing`, `gke` and `composer` override only what differs. `providers.provider_for` is the one
place a target's provider is chosen.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

from automation.core.errors import UserError
from automation.core.paths import state_dir, write_private
from automation.core.runner import Runner
from automation.core.versions import VERSIONS
from automation.k8s import airflow_secrets
from automation.k8s.apply import ensure, listed, moved_source, prune, reclaim_released
from automation.k8s.cluster import ClusterState, LiveCluster, Unreachable
from automation.k8s.helm import merged_values, register_value_secrets
from automation.k8s.objects import ConfigMap, Namespace, Secret, StaticVolume
from automation.k8s.projects import PROJECT_LABEL, project_objects
from automation.providers.cluster import Cluster
from automation.providers.deployer import CloudSide, Deployer
from automation.settings.contract import DAGS_CLAIM, DAGS_PATH, DATA_CLAIM, LOGS_CLAIM, TaskPodFacts
from automation.settings.image_tags import read_tags
from automation.settings.model import Minikube as MinikubeSettings
from automation.settings.model import Mounts, Target

# One rule of the target's platform over a task pod: a line per way the pod breaks it.
PodRule = Callable[[dict[str, Any]], list[str]]
NO_CLUSTER = "Composer's cluster is managed by Google: read it through gcloud"


@dataclass
class UpOptions:
    """What `up`, `down` and `render` take from the command line."""

    values: list[str] = field(default_factory=list)
    port: int | None = None
    skip_dags_check: bool = False
    no_wait: bool = False
    cloud_only: bool = False
    purge: bool = False
    yes: bool = False
    out: str | None = None


class Provider:
    """Where a target's Airflow runs, and how each lifecycle step is done there."""

    kind: ClassVar[str] = ""
    binaries: ClassVar[tuple[str, ...]] = ("kubectl", "helm")
    # Images built here that `up` needs before anything else (under images/, MANUAL: not worker images).
    tool_images: ClassVar[tuple[str, ...]] = ()
    # How this tool signs in to Airflow's API: "airflow" (a user and password at POST /auth/token), or "google"
    # (the user's Google access token as the bearer token: Cloud Composer, and its rehearsal).
    api_sign_in: ClassVar[str] = "airflow"
    # The parts `providers.provider_for` composes the provider with: the cluster this machine reaches (None: Google
    # runs it) and how Airflow is deployed and reached.
    cluster: Cluster | None
    deployer: Deployer
    cloud: CloudSide | None = None

    def __init__(self, runner: Runner, target: Target):
        self.runner = runner
        self.target = target
        # Tool image tags known before their build (images.sync.plan_tool_tags), ahead of the tags file.
        self.planned_tool_tags: dict[str, str] = {}

    # -- which cluster -----------------------------------------------------------------------------------------
    def kubeconfig(self) -> str | None:
        return None

    def context(self) -> str | None:
        return None

    def state(self) -> LiveCluster | Unreachable:
        """The cluster's state; a target without a cluster we reach reads as unreachable."""
        if self.cluster is None:
            return Unreachable(NO_CLUSTER)
        return self.cluster.state()

    def pod_rules(self) -> list[PodRule]:
        """Rules the target's platform adds for task pods (Cloud Composer 3's KubernetesPodOperator rules)."""
        return []

    def airflow_version(self) -> str:
        return self.target.airflow_version or VERSIONS.airflow

    def airflow_image(self) -> str:
        return f"apache/airflow:{self.airflow_version()}"

    def state_dir(self) -> Path:
        return state_dir(self.target.name)

    def tool_tags_file(self) -> Path:
        """Where `up` writes the tags of the provider's tool images (never the DAGs' images.json)."""
        return self.state_dir() / "tool-images.json"

    def tool_image(self, name: str) -> str:
        tag = self.planned_tool_tags.get(name) or read_tags(self.tool_tags_file()).get(name, "unbuilt")
        registry = self.target.images.cluster_registry()
        return f"{registry}/{name}:{tag}" if registry else f"{name}:{tag}"

    def storage(self) -> AbstractContextManager[None]:
        """While open, gs:// paths of this machine reach the target's buckets (Cloud Storage: nothing to do)."""
        return nullcontext()

    def before_run(self) -> None:
        """What `e2e` does before it triggers a run (the rehearsal: the edited task code into its bucket)."""

    # -- checks before anything is made --------------------------------------------------------------------------
    def check_resources(self) -> None:
        """Settings the target cannot run with, refused before anything changes."""

    # -- the cluster -----------------------------------------------------------------------------------------
    def ensure_cluster(self) -> None:
        state = self.state()
        if isinstance(state, Unreachable):
            if self.runner.dry_run:
                self.runner.say(f"    warning: {state.why} (dry run: planning as if the cluster were empty)")
                return
            where = f"kube context {self.context()!r}" if self.context() else "the current kube context"
            raise UserError(f"{where} is not reachable: {state.why}",
                            "start that cluster, or set existing.context in the target")
        self.runner.ok(f"cluster reachable at {state.api_client.configuration.host}")

    def ensure_mounts(self) -> None:
        """Nothing to do unless the provider mounts host folders itself."""

    def ensure_node_folders(self, state: ClusterState) -> None:
        """Nothing to do unless the target's volumes are node folders."""

    def down(self) -> None:
        """`down` without --purge: a shared cluster is not ours to stop, so the Airflow release goes, nothing else."""
        self.uninstall()

    def host_mounts(self) -> Mounts | None:
        """This machine's folders the task pods read and write (DAGs, data); None: they read buckets or claims."""
        return None

    def unreachable_fix(self, up_command: str, status_command: str) -> str:
        """What to do when the cluster does not answer."""
        return (f"start that cluster, or set targets.{self.target.name}.existing.context "
                f"(then `{status_command}`)")

    def remount_fix(self, up_command: str) -> str:
        """How the node's view of this machine's folders is restored, when this tool made it ('': not ours)."""
        return ""

    def node_size(self) -> MinikubeSettings | None:
        """The CPU and memory this machine gives the cluster, when the settings size it (None: sized elsewhere)."""
        return None

    def purge(self, state: ClusterState) -> None:
        """Cluster-wide objects of the target (namespaced ones go with the namespace)."""
        for volume in self.volumes():
            self.runner.plan(f"delete PersistentVolume/{volume.pv_name}")
            if isinstance(state, LiveCluster) and not self.runner.dry_run:
                state.delete("PersistentVolume", volume.pv_name)

    def cluster_summary(self) -> str:
        state = self.state()
        if isinstance(state, Unreachable):
            return f"context {self.context() or '(current)'}: unreachable ({state.why})"
        return f"context {self.context() or '(current)'}: {state.api_client.configuration.host}"

    def mounts_summary(self) -> str:
        if self.target.mounts is None:
            return "-"
        m = self.target.mounts
        return f"dags {m.dags.host} -> {m.dags.node}; data {m.data.host} -> {m.data.node}"

    # -- what the target needs ---------------------------------------------------------------------------------
    def namespaces(self) -> list[Namespace]:
        """Airflow's namespace, then the task pods' when it is another one (the Composer rehearsal)."""
        names = dict.fromkeys([self.target.namespace, self.task_pod_facts().namespace])
        return [Namespace(name) for name in names]

    def volumes(self) -> list[StaticVolume]:
        """The claims behind logs, DAGs and data, and the volumes bound to them."""
        return []

    def node_folders(self) -> list[str]:
        """Node folders that must exist and be writable by uid 50000."""
        return []

    def task_pod_facts(self) -> Any:
        """What task pods get on this target (the contract `dags/common/utils` reads)."""
        return TaskPodFacts(
            target=self.target.name,
            namespace=self.target.namespace,
            data_root=self.target.data_root,
            image_registry=self.target.images.cluster_registry(),
            keep_failed_pods=self.target.keep_failed_pods,
        )

    def project_objects(self) -> list[ConfigMap | Secret]:
        """Each project's ConfigMap and Secret, in the namespace its task pods run in."""
        return project_objects(self.target, self.task_pod_facts().namespace)

    def task_env(self) -> dict[str, str]:
        return dict(self.task_pod_facts().to_env())

    def chart_values(self) -> dict[str, Any]:
        """Values generated from the settings; the common and per-target files hold the rest."""
        target = self.target
        core = airflow_secrets.core_secret_name(target)
        values: dict[str, Any] = {
            "executor": target.executor,
            "airflowVersion": self.airflow_version(),
            "defaultAirflowTag": self.airflow_version(),
            "fernetKeySecretName": core,
            "apiSecretKeySecretName": core,
            "jwtSecretName": core,
            "webserverSecretKeySecretName": core,
            "env": [{"name": k, "value": v} for k, v in self.task_env().items()],
        }
        if target.login.password:
            values["createUserJob"] = {"defaultUser": {"username": target.login.username,
                                                       "password": target.login.password}}
        if target.database.mode == "external":
            values["postgresql"] = {"enabled": False}
            values["data"] = {"metadataSecretName": airflow_secrets.metadata_secret_name(target)}
        for component in target.disable:
            values[component] = {"enabled": False}
        return values

    def extra_objects(self) -> list[dict[str, Any]]:
        """Objects only this provider needs (manifests), applied after the shared ones and rendered with them."""
        return []

    def desired_objects(self) -> list[dict[str, Any]]:
        """Every object `up` makes on the target's cluster, in order; Secrets with their (generated) values."""
        docs: list[dict[str, Any]] = [namespace.render() for namespace in self.namespaces()]
        for volume in self.volumes():
            docs.extend(volume.render())
        if self.cluster is not None:  # Composer keeps Airflow's own secrets
            core, _ = airflow_secrets.core_secret(self.target, None)
            docs.append(core.render())
        docs.extend(obj.render() for obj in self.project_objects())
        docs.extend(self.extra_objects())
        return docs

    def output_location(self, project: str, output: str) -> str:
        """Where a DAG's declared output is read from this machine: a folder, or gs://."""
        return f"{self.target.data_root.rstrip('/')}/{project}/{output}"

    # -- up: objects, deploy, wait -------------------------------------------------------------------------------
    def ensure_objects(self, projects: list[ConfigMap | Secret]) -> dict[str, str]:
        """Namespace, volumes, Airflow's secrets, each project's ConfigMap and Secret, then the provider's own."""
        runner, target = self.runner, self.target
        state = self.state()
        if isinstance(state, Unreachable) and not runner.dry_run:
            raise UserError(f"cluster not reachable after start: {state.why}", "check `kubectl get nodes`")
        outcome: dict[str, str] = {}
        namespaces = self.namespaces()
        with runner.step(f"namespace {', '.join(n.name for n in namespaces)}"):
            for namespace in namespaces:
                outcome[f"Namespace/{namespace.name}"] = ensure(runner, state, namespace.render())
        if self.volumes():
            with runner.step("volumes: logs (node folder owned by 50000), DAGs (read-only), data"):
                for volume in self.volumes():
                    for manifest in volume.render():
                        if manifest["kind"] == "PersistentVolume":
                            self._refuse_moved(state, volume, manifest)
                            reclaim_released(runner, state, manifest)
                        outcome[f"{manifest['kind']}/{manifest['metadata']['name']}"] = ensure(runner, state,
                                                                                                manifest)
                self.ensure_node_folders(state)
        with runner.step("Airflow secrets (made once, never regenerated)"):
            outcome.update(self.ensure_airflow_secrets(state))
        with runner.step(f"projects: {', '.join(target.projects) or 'none'}"):
            # Projects live where their task pods run: one list per kind there, then one decision per object.
            where = self.task_pod_facts().namespace
            known = {kind: listed(state, kind, where) for kind in ("ConfigMap", "Secret")}
            for obj in projects:
                kind = type(obj).__name__
                outcome[f"{kind}/{obj.name}"] = ensure(runner, state, obj.render(), owned_only=True,
                                                      current=known[kind].get(obj.name))
            # A project dropped from the settings loses the ConfigMap and Secret this tool made for it.
            for kind, snapshot in known.items():
                for name in prune(runner, state, snapshot, kind, where, PROJECT_LABEL, set(target.projects)):
                    outcome[f"{kind}/{name}"] = "deleted"
        outcome.update(self.ensure_extra(state))
        return outcome

    def _refuse_moved(self, state: ClusterState, volume: StaticVolume, manifest: dict[str, Any]) -> None:
        moved = moved_source(state.get("PersistentVolume", volume.pv_name), manifest)
        if moved is None:
            return
        kubectl = shlex.join(["kubectl", *(self.cluster.kubectl_args() if self.cluster else [])])
        raise UserError(f"PersistentVolume/{volume.pv_name} {moved}: a bound volume cannot be moved in place",
                        f"stop Airflow and drop the volume objects (the files stay where they are): "
                        f"`{self.target.command('down')}`, then `{kubectl} delete pvc {volume.name} -n "
                        f"{volume.namespace} && {kubectl} delete pv {volume.pv_name}`, then "
                        f"`{self.target.command('up')}`")

    def ensure_airflow_secrets(self, state: ClusterState) -> dict[str, str]:
        runner, target = self.runner, self.target
        outcome: dict[str, str] = {}
        name = airflow_secrets.core_secret_name(target)
        current = state.get("Secret", name, target.namespace)
        core, missing = airflow_secrets.core_secret(target, current)
        if current is not None and not missing and airflow_secrets.recorded_fingerprint(current) is None:
            # Made before the fingerprint existed: the values are kept, their sha256 recorded (for `doctor`).
            runner.say(f"    Secret/{name}: recording its values' sha256 (annotation); values kept as they are")
            outcome["core-secret"] = ensure(runner, state, core.render())
        elif current is not None and not missing:
            runner.ok(f"Secret/{name} present with {', '.join(airflow_secrets.CORE_KEYS)}: kept as is")
            outcome["core-secret"] = "unchanged"
        else:
            if missing and current is not None:
                runner.say(f"    adding missing keys {', '.join(missing)}; existing keys are kept")
            else:
                runner.say(f"    keys: {', '.join(airflow_secrets.CORE_KEYS)} (values never printed)")
            outcome["core-secret"] = ensure(runner, state, core.render())
        if target.database.mode == "external":
            db = Secret(airflow_secrets.metadata_secret_name(target), target.namespace,
                        {"connection": airflow_secrets.external_db_url(target)})
            outcome["metadata-secret"] = ensure(runner, state, db.render())
        if target.executor == "CeleryExecutor":
            name = airflow_secrets.broker_secret_name(target)
            current = state.get("Secret", name, target.namespace)
            broker = airflow_secrets.broker_secret(target, current)
            outcome["broker-secret"] = ensure(runner, state, broker.render(), create_only=True, current=current)
        return outcome

    def ensure_extra(self, state: ClusterState) -> dict[str, str]:
        """The provider's own objects, after the shared ones."""
        outcome: dict[str, str] = {}
        if self.extra_objects():
            with self.runner.step(f"{self.kind}: its own objects"):
                for manifest in self.extra_objects():
                    outcome[f"{manifest['kind']}/{manifest['metadata']['name']}"] = ensure(self.runner, state,
                                                                                            manifest)
        return outcome

    def merged_values(self, options: UpOptions) -> dict[str, Any]:
        values = merged_values(self.target, self.chart_values(), options.values)
        register_value_secrets(values, self.target.login.password)
        return values

    def write_values(self, values: dict[str, Any]) -> Path:
        path = self.state_dir() / "values.merged.yaml"
        write_private(path, yaml.safe_dump(values, sort_keys=True))  # may hold the UI password
        return path

    def login_hint(self) -> tuple[str, str]:
        login = self.target.login
        password = login.password or (f"(kubectl get secret {airflow_secrets.login_secret_name(self.target)} "
                                      f"-n {self.target.namespace})")
        return login.username, password

    def uninstall(self) -> None:
        """`down` on a cluster we do not stop: remove the Airflow release, keep everything else."""
        if self.cluster is None or isinstance(self.cluster.state(), Unreachable):
            return
        helm = self.cluster.helm()
        if helm.release() is None:
            self.runner.ok(f"release {self.target.release} not installed")
        else:
            helm.uninstall()

    def delete_namespace(self, state: ClusterState, namespace: str | None = None) -> None:
        """Delete a namespace and wait until it is gone. Its pods go first, without their grace period, then
        its claims: left to the namespace controller, claims held by terminating pods make it retry with a
        growing delay (minutes for a purge that has nothing left to keep)."""
        namespace = namespace or self.target.namespace
        self.runner.plan(f"delete Namespace/{namespace} (its pods at once, then its claims)")
        if not isinstance(state, LiveCluster) or self.runner.dry_run:
            return
        for pod in state.list("Pod", namespace):
            state.delete("Pod", pod["metadata"]["name"], namespace, grace_seconds=0)
        for claim in state.list("PersistentVolumeClaim", namespace):
            state.delete("PersistentVolumeClaim", claim["metadata"]["name"], namespace)
        deadline = time.monotonic() + 120
        while state.list("PersistentVolumeClaim", namespace) and time.monotonic() < deadline:
            time.sleep(1)
        state.delete("Namespace", namespace)
        deadline = time.monotonic() + 300
        while state.get("Namespace", namespace) and time.monotonic() < deadline:
            time.sleep(1)

    def purge_all(self) -> None:
        """`down --purge`: the release, the namespace (its secrets and claims), then cluster-wide objects."""
        state = self.state()
        self.uninstall()
        self.delete_namespace(state)
        self.purge(state)


class LocalClusterProvider(Provider):
    """A cluster whose nodes see this repository's dags/ and data/ folders (Minikube, any existing context):
    logs on a node folder, DAGs and data on the node's view of this machine's folders."""

    def host_mounts(self) -> Mounts | None:
        return self.target.mounts

    def volumes(self) -> list[StaticVolume]:
        from automation.k8s.objects import host_path_volume

        target = self.target
        if target.mounts is None:
            return []
        return [
            host_path_volume(LOGS_CLAIM, target.namespace, target.logs.node_path, target.logs.size),
            host_path_volume(DAGS_CLAIM, target.namespace, target.mounts.dags.node, "1Gi", "ReadOnlyMany",
                             "Directory"),
            host_path_volume(DATA_CLAIM, target.namespace, target.mounts.data.node, "10Gi",
                             "ReadWriteMany", "Directory"),
        ]

    def node_folders(self) -> list[str]:
        target = self.target
        if target.mounts is None:
            return []
        data = target.mounts.data.node.rstrip("/")
        return [target.logs.node_path, *(f"{data}/{project}" for project in target.projects)]

    def chart_values(self) -> dict[str, Any]:
        values = super().chart_values()
        values["logs"] = {"persistence": {"enabled": True, "existingClaim": LOGS_CLAIM}}
        values.update(read_only_dags_values())
        return values

    def output_location(self, project: str, output: str) -> str:
        if self.target.mounts is None:
            raise UserError(f"target {self.target.name!r} has no mounts.data to find outputs in")
        return str(self.target.path(self.target.mounts.data.host) / project / output)


def read_only_dags_values() -> dict[str, Any]:
    # The chart mounts a DAG claim read-write; mounting ours through the global volumes keeps it read-only.
    return {
        "volumes": [{"name": "dags-ro", "persistentVolumeClaim": {"claimName": DAGS_CLAIM, "readOnly": True}}],
        "volumeMounts": [{"name": "dags-ro", "mountPath": DAGS_PATH, "readOnly": True}],
    }
