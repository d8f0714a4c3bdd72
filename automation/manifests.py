"""Plain data describing the Kubernetes objects a target needs, rendered to manifests in one place.

Nothing here talks to a cluster: `kube.py` applies what these render, `render.py` writes them to files.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

MANAGED_BY = "airflow-automation"
STORAGE_CLASS = "airflow-hostpath"


def _meta(name: str, namespace: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {"app.kubernetes.io/managed-by": MANAGED_BY, **(labels or {})}}
    if namespace:
        meta["namespace"] = namespace
    return meta


@dataclass(frozen=True)
class Namespace:
    name: str

    def render(self) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(self.name)}


@dataclass(frozen=True)
class HostPathVolume:
    """A PersistentVolume on a node folder and the claim bound to it (reclaim policy Retain)."""

    name: str  # the claim's name, which pods refer to
    namespace: str
    node_path: str
    size: str
    access_mode: str = "ReadWriteMany"
    # DirectoryOrCreate for node-native folders we own (logs); Directory for mounts that must already exist.
    path_type: str = "DirectoryOrCreate"

    @property
    def pv_name(self) -> str:
        # PersistentVolumes are cluster-wide: the namespace keeps two environments on one cluster apart.
        return f"{self.namespace}-{self.name}"

    def render(self) -> list[dict[str, Any]]:
        pv = {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": _meta(self.pv_name),
            "spec": {
                "capacity": {"storage": self.size},
                "accessModes": [self.access_mode],
                "persistentVolumeReclaimPolicy": "Retain",
                "storageClassName": STORAGE_CLASS,
                "hostPath": {"path": self.node_path, "type": self.path_type},
                "claimRef": {"namespace": self.namespace, "name": self.name},
            },
        }
        pvc = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": _meta(self.name, self.namespace),
            "spec": {
                "accessModes": [self.access_mode],
                "storageClassName": STORAGE_CLASS,
                "volumeName": self.pv_name,
                "resources": {"requests": {"storage": self.size}},
            },
        }
        return [pv, pvc]


@dataclass(frozen=True)
class Secret:
    name: str
    namespace: str
    data: dict[str, str]
    labels: dict[str, str] = field(default_factory=dict)

    def render(self) -> dict[str, Any]:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in sorted(self.data.items())}
        return {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": _meta(self.name, self.namespace, self.labels),
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
            "metadata": _meta(self.name, self.namespace, self.labels),
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
        for i, path in enumerate(self.folders):
            parent, leaf = path.rstrip("/").rsplit("/", 1)
            volumes.append({"name": f"f{i}", "hostPath": {"path": parent or "/", "type": "DirectoryOrCreate"}})
            mounts.append({"name": f"f{i}", "mountPath": f"/node/f{i}"})
            script.append(f"install -d -o {self.uid} -g {self.gid} -m 0775 /node/f{i}/{leaf}")
            script.append(f"chown {self.uid}:{self.gid} /node/f{i}/{leaf} && chmod 0775 /node/f{i}/{leaf}")
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": _meta(self.name, self.namespace, {"app.kubernetes.io/component": "node-folders"}),
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
