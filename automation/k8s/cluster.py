"""Cluster state, read and changed through one interface (the kubernetes client, server-side apply).

`ClusterState` is what every decision of `up`, `down` and `status` reads. `LiveCluster` talks to a real
cluster; `Unreachable` stands for a cluster that cannot be read (no cluster yet, in a dry run): every object
is absent, so the plan shows everything `up` would create.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from automation.core.errors import UserError

FIELD_MANAGER = "airflow-automation"
_API = {
    "Namespace": "v1",
    "PersistentVolume": "v1",
    "PersistentVolumeClaim": "v1",
    "Secret": "v1",
    "ConfigMap": "v1",
    "Pod": "v1",
    "ServiceAccount": "v1",
    "Service": "v1",
    "Event": "v1",
    "Node": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "Job": "batch/v1",
    "Role": "rbac.authorization.k8s.io/v1",
    "RoleBinding": "rbac.authorization.k8s.io/v1",
}
_CLUSTER_SCOPED = {"Namespace", "PersistentVolume", "Node"}


class ClusterState(Protocol):
    reachable: bool

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None: ...

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[dict[str, Any]]: ...


class Unreachable:
    reachable = False

    def __init__(self, why: str = "cluster not reachable"):
        self.why = why

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return None

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[dict[str, Any]]:
        return []


class LiveCluster:
    """A real cluster through the kubernetes client."""

    reachable = True

    def __init__(self, kubeconfig: str | None = None, context: str | None = None, timeout: float = 10):
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException
        from kubernetes.dynamic import DynamicClient

        try:
            api_client = config.new_client_from_config(config_file=kubeconfig, context=context)
        except (ConfigException, FileNotFoundError, TypeError) as exc:
            where = f"context {context!r}" if context else "the current kube context"
            raise UserError(f"cannot load {where}: {exc}",
                            "check KUBECONFIG and `kubectl config get-contexts`") from None
        self.api_client = api_client
        self.timeout = timeout
        try:
            self.dynamic = DynamicClient(api_client)
        except Exception as exc:
            host = api_client.configuration.host
            raise UserError(f"cluster at {host} is not reachable ({type(exc).__name__})",
                            "start the cluster (nox -s up) or check the kube context") from None
        self._resources: dict[str, Any] = {}

    def resource(self, kind: str) -> Any:
        if kind not in self._resources:
            self._resources[kind] = self.dynamic.resources.get(api_version=_API[kind], kind=kind)
        return self._resources[kind]

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            obj = self.resource(kind).get(name=name, namespace=None if kind in _CLUSTER_SCOPED else namespace,
                                          _request_timeout=self.timeout)
        except NotFoundError:
            return None
        return obj.to_dict()

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[dict[str, Any]]:
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            result = self.resource(kind).get(namespace=namespace, label_selector=selector,
                                             _request_timeout=self.timeout)
        except NotFoundError:
            return []
        return [item.to_dict() for item in result.items]

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        kind = manifest["kind"]
        meta = manifest["metadata"]
        result = self.resource(kind).server_side_apply(
            body=manifest,
            name=meta["name"],
            namespace=meta.get("namespace"),
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
        )
        return result.to_dict()

    def merge_patch(self, kind: str, name: str, body: dict[str, Any], namespace: str | None = None) -> None:
        """A JSON merge patch: for fields another controller set (a null value removes the field)."""
        self.resource(kind).patch(body=body, name=name, namespace=None if kind in _CLUSTER_SCOPED else namespace,
                                  content_type="application/merge-patch+json", _request_timeout=self.timeout)

    def namespaced(self, kind: str) -> bool:
        """Whether objects of `kind` live in a namespace (the API's discovery says)."""
        return kind not in _CLUSTER_SCOPED and bool(getattr(self.resource(kind), "namespaced", True))

    def dry_run(self, manifest: dict[str, Any], create: bool = False) -> str | None:
        """Send `manifest` to the API server as a dry run (server-side apply, or a create for objects that
        carry generated names): None when it is accepted, else the server's reason."""
        from kubernetes.dynamic.exceptions import DynamicApiError

        meta = manifest["metadata"]
        namespace = meta.get("namespace") if self.namespaced(manifest["kind"]) else None
        try:
            if create:
                self.resource(manifest["kind"]).create(body=manifest, namespace=namespace, dry_run="All",
                                                       _request_timeout=self.timeout)
            else:
                self.resource(manifest["kind"]).server_side_apply(
                    body=manifest, name=meta["name"], namespace=namespace, field_manager=FIELD_MANAGER,
                    force_conflicts=True, dry_run="All", _request_timeout=self.timeout)
        except DynamicApiError as exc:
            return str(getattr(exc, "summary", lambda: "")() or exc).splitlines()[0]
        return None

    def delete(self, kind: str, name: str, namespace: str | None = None, grace_seconds: int | None = None) -> bool:
        from kubernetes.dynamic.exceptions import NotFoundError

        try:
            self.resource(kind).delete(name=name, namespace=None if kind in _CLUSTER_SCOPED else namespace,
                                       grace_period_seconds=grace_seconds)
        except NotFoundError:
            return False
        return True

    def pod_log(self, name: str, namespace: str, tail: int = 20, container: str | None = None) -> str:
        from kubernetes import client

        try:
            return str(client.CoreV1Api(self.api_client).read_namespaced_pod_log(
                name, namespace, tail_lines=tail, container=container, _request_timeout=self.timeout))
        except Exception as exc:
            return f"(no log: {type(exc).__name__})"


def connect(kubeconfig: str | None, context: str | None) -> LiveCluster | Unreachable:
    """A live cluster when one answers, otherwise Unreachable with the reason."""
    try:
        cluster = LiveCluster(kubeconfig, context)
        cluster.resource("Namespace")
        return cluster
    except UserError as exc:
        return Unreachable(exc.problem)
    except Exception as exc:
        return Unreachable(f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")


def wait_for_pod(state: LiveCluster, name: str, namespace: str, timeout: float) -> tuple[str, str]:
    """The pod's phase once it ended, or after `timeout`; with why it has not run when it is still Pending."""
    deadline = time.monotonic() + timeout
    pod: dict[str, Any] = {}
    while time.monotonic() < deadline:
        pod = state.get("Pod", name, namespace) or {}
        phase = (pod.get("status") or {}).get("phase", "Pending")
        if phase in ("Succeeded", "Failed"):
            return str(phase), ""
        time.sleep(1)
    return str((pod.get("status") or {}).get("phase", "Pending")), pod_stuck_reason(pod)


def pod_stuck_reason(pod: dict[str, Any]) -> str:
    """Why a pod has not run yet, as the cluster says it: the scheduler's verdict (no node with the CPU, a
    taint) or a container's waiting reason (an image that cannot be pulled); empty when it says nothing."""
    status = pod.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "PodScheduled" and condition.get("status") == "False":
            return f"not scheduled: {condition.get('message') or condition.get('reason') or 'no reason given'}"
    for container in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (container.get("state") or {}).get("waiting")
        if waiting and waiting.get("reason") not in (None, "ContainerCreating", "PodInitializing"):
            return f"{container.get('name')}: {waiting['reason']}: {waiting.get('message') or ''}".rstrip(": ")
    if not pod:
        return "the pod is gone"
    return ""


def lost_connection(exc: BaseException) -> str | None:
    """When `exc` (or what caused it) is the API server going away mid-command (refused, reset, timed out), the
    one line that says so; None for anything else. Every step before it was applied in full by the server, and
    each is read back first on the next run, so running the command again converges."""
    import urllib3.exceptions

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, urllib3.exceptions.MaxRetryError):
            where = f"{seen.pool.host}:{seen.pool.port}" if seen.pool is not None else "its address"
            reason = seen.reason or seen
            return f"the Kubernetes API server at {where} stopped answering ({_short(reason)})"
        if isinstance(seen, urllib3.exceptions.ProtocolError | ConnectionError):
            return f"the connection to the Kubernetes API server broke ({_short(seen)})"
        seen = seen.__cause__ or seen.__context__
    return None


def _short(exc: BaseException) -> str:
    text = str(exc)
    for known in ("Connection refused", "Connection reset by peer", "timed out", "Remote end closed connection"):
        if known.lower() in text.lower():
            return known.lower()
    return (text.splitlines()[0] if text else type(exc).__name__)[:120]
