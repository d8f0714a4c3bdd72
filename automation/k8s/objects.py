"""Plain data describing the Kubernetes objects a target needs, rendered to manifests in one place.

Nothing here talks to a cluster: `k8s.apply` applies what these render, `lifecycle.render` writes them.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import yaml

MANAGED_BY = "airflow-automation"
MANAGED_LABEL = "app.kubernetes.io/managed-by"
STORAGE_CLASS = "airflow-hostpath"


def meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {MANAGED_LABEL: MANAGED_BY, **(labels or {})}}
    if namespace:
        meta["namespace"] = namespace
    return meta


@dataclass(frozen=True)
class Namespace:
    name: str

    def render(self) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta(self.name)}


@dataclass(frozen=True)
class StaticVolume:
    """A PersistentVolume bound to exactly one claim, no provisioner (reclaim policy Retain).

    `source` is the volume source as the PersistentVolume spec names it: {"hostPath": ...} on local clusters,
    {"csi": ...} for a GCS bucket on GKE. Pods only ever name the claim.
    """

    name: str  # the claim's name, which pods refer to
    namespace: str
    size: str
    source: dict[str, Any]
    access_mode: str = "ReadWriteMany"
    storage_class: str = STORAGE_CLASS
    mount_options: tuple[str, ...] = ()

    @property
    def pv_name(self) -> str:
        # PersistentVolumes are cluster-wide: the namespace keeps two environments on one cluster apart.
        return f"{self.namespace}-{self.name}"

    def render(self) -> list[dict[str, Any]]:
        spec: dict[str, Any] = {
            "capacity": {"storage": self.size},
            "accessModes": [self.access_mode],
            "persistentVolumeReclaimPolicy": "Retain",
            "storageClassName": self.storage_class,
        }
        if self.mount_options:
            spec["mountOptions"] = list(self.mount_options)
        spec.update(self.source)
        spec["claimRef"] = {"namespace": self.namespace, "name": self.name}
        pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta(self.pv_name), "spec": spec}
        pvc = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": meta(self.name, self.namespace),
            "spec": {
                "accessModes": [self.access_mode],
                "storageClassName": self.storage_class,
                "volumeName": self.pv_name,
                "resources": {"requests": {"storage": self.size}},
            },
        }
        return [pv, pvc]


def host_path_volume(name: str, namespace: str, node_path: str, size: str, access_mode: str = "ReadWriteMany",
                     path_type: str = "DirectoryOrCreate") -> StaticVolume:
    """A claim over a node folder. DirectoryOrCreate for node-native folders we own (logs); Directory for
    mounts that must already exist."""
    return StaticVolume(name, namespace, size, {"hostPath": {"path": node_path, "type": path_type}}, access_mode)


@dataclass(frozen=True)
class Secret:
    name: str
    namespace: str
    data: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in sorted(self.data.items())}
        metadata = meta(self.name, self.namespace, self.labels)
        if self.annotations:
            metadata["annotations"] = dict(sorted(self.annotations.items()))
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": metadata,
            "data": encoded,
        }


@dataclass(frozen=True)
class ConfigMap:
    name: str
    namespace: str
    data: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": meta(self.name, self.namespace, self.labels),
            "data": dict(sorted(self.data.items())),
        }


@dataclass(frozen=True)
class NodeFolderJob:
    """A one-shot pod that creates node folders owned by uid 50000 (hostPath cannot set an owner).

    It runs the Airflow image the cluster already has, as root, and only runs `install -d`.
    """

    name: str
    namespace: str
    image: str
    folders: tuple[str, ...]  # node paths
    uid: int = 50000
    gid: int = 0

    def render(self) -> dict[str, Any]:
        mounts, volumes, script = [], [], []
        parents: dict[str, int] = {}  # one volume per parent folder: 50 projects' data folders share one
        for path in self.folders:
            parent, leaf = path.rstrip("/").rsplit("/", 1)
            parent = parent or "/"
            if parent not in parents:
                i = parents[parent] = len(parents)
                volumes.append({"name": f"f{i}", "hostPath": {"path": parent, "type": "DirectoryOrCreate"}})
                mounts.append({"name": f"f{i}", "mountPath": f"/node/f{i}"})
            target = f"/node/f{parents[parent]}/{leaf}"
            script.append(f"install -d -o {self.uid} -g {self.gid} -m 0775 {target}")
            script.append(f"chown {self.uid}:{self.gid} {target} && chmod 0775 {target}")
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": meta(self.name, self.namespace, {"app.kubernetes.io/component": "node-folders"}),
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "folders",
                        "image": self.image,
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["/bin/sh", "-ec", " && ".join(script)],
                        "securityContext": {"runAsUser": 0, "runAsGroup": 0},
                        "volumeMounts": mounts,
                        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                    }
                ],
                "volumes": volumes,
            },
        }


@dataclass(frozen=True)
class PodLauncherRole:
    """Lets a ServiceAccount of another namespace run task pods in `namespace` (what Composer grants its
    workers in composer-user-workloads): a Role for pods, their logs, exec (the XCom sidecar) and events,
    bound to that account."""

    name: str
    namespace: str
    account: str
    account_namespace: str

    def render(self) -> list[dict[str, Any]]:
        rules = [
            {"apiGroups": [""], "resources": ["pods"],
             "verbs": ["create", "get", "list", "watch", "delete", "patch"]},
            {"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get", "list"]},
            {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "list", "watch"]},
        ]
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": meta(self.name, self.namespace), "rules": rules}
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": meta(self.name, self.namespace),
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": self.name},
                   "subjects": [{"kind": "ServiceAccount", "name": self.account,
                                 "namespace": self.account_namespace}]}
        return [role, binding]


@dataclass(frozen=True)
class KubeConfigIdentity:
    """A kubeconfig file for Airflow's workers whose identity may run pods in `pods_namespace` and nowhere else:
    what Cloud Composer gives its workers at /home/airflow/composer_kube_config, rehearsed.

    A ServiceAccount of the workers' namespace, its long-lived token Secret (filled by the cluster's token
    controller, never by this tool, so the token is never read or printed), a PodLauncherRole for it in
    `pods_namespace` only, and a ConfigMap holding the kubeconfig, which names the token and CA files by path
    (`tokenFile`, read by client-go and the Python client alike) where `volumes()` mounts them.
    """

    name: str
    namespace: str  # the workers'
    pods_namespace: str
    path: str  # where the kubeconfig file appears in the workers
    token_dir: str = "/var/run/secrets/composer-kube-config"

    @property
    def token_secret(self) -> str:
        return f"{self.name}-token"

    def kubeconfig(self) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "cluster", "cluster": {"server": "https://kubernetes.default.svc",
                                                         "certificate-authority": f"{self.token_dir}/ca.crt"}}],
            "users": [{"name": self.name, "user": {"tokenFile": f"{self.token_dir}/token"}}],
            "contexts": [{"name": self.name, "context": {"cluster": "cluster", "user": self.name,
                                                         "namespace": self.pods_namespace}}],
            "current-context": self.name,
        }

    def render(self) -> list[dict[str, Any]]:
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(self.name, self.namespace),
                   "automountServiceAccountToken": False}
        token_meta = meta(self.token_secret, self.namespace)
        token_meta["annotations"] = {"kubernetes.io/service-account.name": self.name}
        token = {"apiVersion": "v1", "kind": "Secret", "metadata": token_meta,
                 "type": "kubernetes.io/service-account-token"}
        config = ConfigMap(self.name, self.namespace, {"kubeconfig": yaml.safe_dump(self.kubeconfig(),
                                                                                   sort_keys=False)})
        role = PodLauncherRole(self.name, self.pods_namespace, self.name, self.namespace)
        return [account, token, config.render(), *role.render()]

    def volumes(self) -> list[dict[str, Any]]:
        return [{"name": self.name, "configMap": {"name": self.name}},
                {"name": self.token_secret, "secret": {"secretName": self.token_secret}}]

    def volume_mounts(self) -> list[dict[str, Any]]:
        return [{"name": self.name, "mountPath": self.path, "subPath": "kubeconfig", "readOnly": True},
                {"name": self.token_secret, "mountPath": self.token_dir, "readOnly": True}]


def service_url(name: str, namespace: str, port: int) -> str:
    """The URL pods reach a Service at (cluster DNS)."""
    return f"http://{name}.{namespace}.svc.cluster.local:{port}"


@dataclass(frozen=True)
class GcsEmulator:
    """A GCS emulator (gcp-storage-emulator) serving `port` through a Service of the same name. Its objects
    live in an emptyDir: the buckets are seeded again by `up`, as a fresh Composer bucket would be."""

    name: str
    namespace: str
    image: str
    port: int
    uid: int = 50000

    def render(self) -> list[dict[str, Any]]:
        labels = {"app.kubernetes.io/name": self.name}
        container = {
            "name": "emulator",
            "image": self.image,
            "imagePullPolicy": "IfNotPresent",
            "command": ["gcp-storage-emulator", "--data-dir", "/storage", "start", "--host", "0.0.0.0",
                        "--port", str(self.port)],
            "ports": [{"name": "http", "containerPort": self.port}],
            "readinessProbe": {"httpGet": {"path": "/storage/v1/b", "port": self.port}, "periodSeconds": 2},
            "resources": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "1Gi"}},
            "securityContext": {"runAsNonRoot": True, "runAsUser": self.uid, "allowPrivilegeEscalation": False,
                                "capabilities": {"drop": ["ALL"]}},
            "volumeMounts": [{"name": "storage", "mountPath": "/storage"}],
        }
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": meta(self.name, self.namespace, labels),
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels},
                             "spec": {"containers": [container],
                                      "volumes": [{"name": "storage", "emptyDir": {}}]}},
            },
        }
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta(self.name, self.namespace, labels),
            "spec": {"selector": labels, "ports": [{"name": "http", "port": self.port, "targetPort": self.port}]},
        }
        return [deployment, service]

    @property
    def endpoint(self) -> str:
        return service_url(self.name, self.namespace, self.port)
