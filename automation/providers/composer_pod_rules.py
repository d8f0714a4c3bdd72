"""Cloud Composer 3's rules for KubernetesPodOperator pods, checked before the DAG reaches Composer.

Input: a pod as `kubernetes.client.ApiClient().sanitize_for_serialization(pod)` gives it (camelCase keys), for
example the pod a KubernetesPodOperator builds with `build_pod_request_obj()`. Output: one line per finding.

Sources: Composer 3 "Use the KubernetesPodOperator" (one sidecar only, named airflow-xcom-sidecar; pods always
run in composer-user-workloads; no affinity; resources only within supported values) and GKE Autopilot
"Resource requests" for the supported values, general-purpose compute class (Composer 3 task pods run there).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from automation.settings.contract import COMPOSER_NAMESPACE as NAMESPACE
from automation.settings.contract import XCOM_SIDECAR

GIB = Decimal(1024**3)
MIB = Decimal(1024**2)
# Autopilot general-purpose class: per-pod minimums and maximums, and memory per vCPU.
CPU_MIN, CPU_MAX = Decimal("0.05"), Decimal(30)
MEMORY_MIN, MEMORY_MAX = 52 * MIB, 110 * GIB
RATIO_MIN, RATIO_MAX = Decimal(1), Decimal("6.5")  # GiB of memory per vCPU
EPHEMERAL_MIN, EPHEMERAL_MAX = 10 * MIB, 10 * GIB

_SUFFIX: dict[str, Decimal | int] = {
    "": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
    "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4, "Pi": 1024**5,
}
_QUANTITY = re.compile(r"^([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|m|k|M|G|T|P)?$")


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity ('500m', '2Gi', 1.5) as a number of base units; None when unreadable."""
    match = _QUANTITY.match(str(value).strip())
    if not match:
        return None
    try:
        return Decimal(match.group(1)) * Decimal(_SUFFIX[match.group(2) or ""])
    except InvalidOperation:
        return None


def _fmt_bytes(value: Decimal) -> str:
    return f"{value / GIB:.2f}Gi" if value >= GIB else f"{value / MIB:.0f}Mi"


def lint_pod(pod: dict[str, Any]) -> list[str]:
    """Every way `pod` breaks Composer 3's KubernetesPodOperator rules, one line each."""
    findings: list[str] = []
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    name = meta.get("name") or "pod"

    namespace = meta.get("namespace")
    if namespace and namespace != NAMESPACE:
        findings.append(f"{name}: namespace {namespace!r} is ignored: Composer 3 runs every pod in {NAMESPACE}")

    containers = list(spec.get("containers") or [])
    # Native sidecars are init containers that keep running (restartPolicy Always).
    native = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    sidecars = containers[1:] + native
    for extra in sidecars:
        if extra.get("name") != XCOM_SIDECAR:
            findings.append(f"{name}: sidecar container {extra.get('name')!r} is not allowed: Composer 3 runs one "
                            f"sidecar only, named {XCOM_SIDECAR}")
    if len(sidecars) > 1 and all(c.get("name") == XCOM_SIDECAR for c in sidecars):
        findings.append(f"{name}: {len(sidecars)} sidecars: Composer 3 allows a single {XCOM_SIDECAR}")

    if spec.get("affinity"):
        findings.append(f"{name}: affinity is set: Composer 3 does not support pod affinity (use nodeSelector "
                        "for a compute class, or the GKE operators on another cluster)")

    for volume in spec.get("volumes") or []:
        if volume.get("hostPath"):
            findings.append(f"{name}: volume {volume.get('name')!r} is a hostPath: Composer 3 forbids node paths")

    for container in [*containers, *(spec.get("initContainers") or [])]:
        cname = container.get("name")
        security = container.get("securityContext") or {}
        if security.get("privileged"):
            findings.append(f"{name}: container {cname!r} is privileged: Composer 3 forbids privileged pods")
        caps = ((security.get("capabilities") or {}).get("add")) or []
        if any(str(c).upper() in ("SYS_ADMIN", "ALL") for c in caps):
            findings.append(f"{name}: container {cname!r} adds capability {caps}: not allowed on Composer 3")

    findings.extend(_resources(name, containers))
    if (spec.get("securityContext") or {}).get("privileged"):
        findings.append(f"{name}: pod securityContext is privileged: Composer 3 forbids privileged pods")
    if spec.get("hostNetwork") or spec.get("hostPID") or spec.get("hostIPC"):
        findings.append(f"{name}: host namespaces (hostNetwork/hostPID/hostIPC) are not allowed on Composer 3")
    return findings


def _resources(name: str, containers: list[dict[str, Any]]) -> list[str]:
    """Requests summed over the pod, as Autopilot validates them (missing ones get Autopilot's defaults)."""
    findings: list[str] = []
    totals: dict[str, Decimal] = {}
    for container in containers:
        resources = container.get("resources") or {}
        requests = resources.get("requests") or {}
        limits = resources.get("limits") or {}
        for kind in ("cpu", "memory", "ephemeral-storage"):
            raw = requests.get(kind, limits.get(kind))  # Kubernetes takes the limit as the request when unset
            if raw is None:
                continue
            value = quantity(raw)
            if value is None:
                findings.append(f"{name}: container {container.get('name')!r}: {kind} {raw!r} is not a quantity")
                continue
            totals[kind] = totals.get(kind, Decimal(0)) + value
            limit = quantity(limits[kind]) if kind in limits else None
            if limit is not None and limit < value:
                findings.append(f"{name}: container {container.get('name')!r}: {kind} limit {limits[kind]} is "
                                f"below its request {raw}")
    cpu, memory, disk = totals.get("cpu"), totals.get("memory"), totals.get("ephemeral-storage")
    if cpu is not None and not CPU_MIN <= cpu <= CPU_MAX:
        findings.append(f"{name}: CPU request {cpu.normalize()} vCPU is outside Composer 3's supported "
                        f"{CPU_MIN.normalize()}-{CPU_MAX} vCPU")
    if memory is not None and not MEMORY_MIN <= memory <= MEMORY_MAX:
        findings.append(f"{name}: memory request {_fmt_bytes(memory)} is outside Composer 3's supported "
                        f"{_fmt_bytes(MEMORY_MIN)}-{_fmt_bytes(MEMORY_MAX)}")
    if cpu and memory is not None:
        ratio = (memory / GIB) / cpu
        if not RATIO_MIN <= ratio <= RATIO_MAX:
            findings.append(f"{name}: memory/CPU ratio {ratio:.2f} GiB per vCPU is outside Composer 3's supported "
                            f"{RATIO_MIN}-{RATIO_MAX} GiB per vCPU")
    if disk is not None and not EPHEMERAL_MIN <= disk <= EPHEMERAL_MAX:
        findings.append(f"{name}: ephemeral-storage request {_fmt_bytes(disk)} is outside Composer 3's supported "
                        f"{_fmt_bytes(EPHEMERAL_MIN)}-{_fmt_bytes(EPHEMERAL_MAX)}")
    return findings


class _OfflineHook:
    """Stands in for the operator's Kubernetes hook: building the pod must not need a cluster or kubeconfig."""

    is_in_cluster = False

    def get_namespace(self) -> str | None:
        return None

    def get_xcom_sidecar_container_image(self) -> str | None:
        return None

    def get_xcom_sidecar_container_resources(self) -> dict[str, Any] | None:
        return None


def build_pod(operator: Any) -> dict[str, Any]:
    """The pod a KubernetesPodOperator task would launch, built offline, as the API takes it."""
    from kubernetes.client import ApiClient

    operator.__dict__.setdefault("hook", _OfflineHook())  # `hook` is a cached_property: this pre-fills it
    return dict(ApiClient().sanitize_for_serialization(operator.build_pod_request_obj()))


def lint_operator(operator: Any) -> list[str]:
    """The findings for a KubernetesPodOperator task, from the pod it would launch."""
    return lint_pod(build_pod(operator))
