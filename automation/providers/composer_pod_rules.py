"""Cloud Composer 3's rules for KubernetesPodOperator pods, checked before the DAG reaches Composer.

Input: a pod as `kubernetes.client.ApiClient().sanitize_for_serialization(pod)` gives it (camelCase keys), for
example the pod a KubernetesPodOperator builds with `build_pod_request_obj()`. Output: `pod_findings(pod)`, one
`PodFinding` per broken rule, each either

- **refused**: Composer (its GKE Autopilot admission, or the Kubernetes API server) rejects the pod, so the task
  fails; or
- **changed**: Composer runs the pod, but not as written (another namespace, a raised resource request); the
  message says what Composer does instead.

`lint_pod(pod)` gives the same findings as lines starting with "refused:" or "changed by Composer:" (the form
`Provider.pod_rules()` takes). Every rule below names the page it comes from (`RULES`).

Composer 3 runs task pods on GKE Autopilot infrastructure in the general-purpose compute class (the Composer 3
page: resource requirements, CPU, memory and storage, must be given in supported values), so the resource and
security rules are Autopilot's.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from automation.settings.contract import COMPOSER_NAMESPACE as NAMESPACE
from automation.settings.contract import XCOM_SIDECAR

Severity = Literal["refused", "changed"]
REFUSED: Severity = "refused"
CHANGED: Severity = "changed"
# How a `lint_pod` line starts, by severity: a caller can tell a warning from a problem by it.
REFUSED_PREFIX = "refused:"
CHANGED_PREFIX = "changed by Composer:"
_PREFIX: dict[Severity, str] = {REFUSED: REFUSED_PREFIX, CHANGED: CHANGED_PREFIX}

# Sources.
# Composer 3 "Use the KubernetesPodOperator", section "Before you begin": "Pods always run in the
# composer-user-workloads namespace, even if a different namespace is specified"; "It isn't possible to run
# multiple additional sidecar containers in Cloud Composer 3. You can run a single sidecar container if it is named
# airflow-xcom-sidecar"; Secrets and ConfigMaps cannot be created with the Kubernetes API (Composer's API, gcloud
# or Terraform instead: not a pod rule, the parity check's project_objects_rule covers references); resource
# requirements (CPU, memory, storage) must use supported values; Pod affinity configuration is not available (use
# the GKE operators on another cluster). The page does not say whether a pod breaking the sidecar or affinity rule
# is rejected or altered: both are treated as refused.
COMPOSER_KPO = "https://cloud.google.com/composer/docs/composer-3/use-kubernetes-pod-operator"
# GKE "Resource requests in Autopilot": "If your requests are less than the minimum, Autopilot automatically
# modifies your workload configuration to bring your requests within the allowed range. If your requests are
# greater than the maximum, Autopilot rejects your workload and displays an error message."
AUTOPILOT_REQUESTS = "https://cloud.google.com/kubernetes-engine/docs/concepts/autopilot-resource-requests"
# GKE "Configure Pod bursting in GKE" (availability: cluster created on GKE 1.26 or later, running
# 1.30.2-gke.1394000 or later): clusters with bursting have the lower minimums, "50m CPU, 52 MiB memory" as GKE's
# own engineers put it (GoogleContainerTools/config-sync#1409); 250m CPU without bursting.
POD_BURSTING = "https://cloud.google.com/kubernetes-engine/docs/how-to/pod-bursting-gke"
# GKE "Autopilot security measures": the security constraints Autopilot's admission (GKE Warden) enforces; its
# refusals read "[denied by autogke-disallow-privilege]" ("container X is privileged; not allowed in Autopilot"),
# "[denied by autogke-disallow-hostnamespaces]" ("enabling hostNetwork is not allowed in Autopilot"),
# "[denied by autogke-no-write-mode-hostpath]", "[denied by autogke-default-linux-capabilities]" (as quoted in
# public bug reports; Autopilot lets a read-only hostPath under /var/log/ through, this lint refuses every one).
AUTOPILOT_SECURITY = "https://cloud.google.com/kubernetes-engine/docs/concepts/autopilot-security"
# GKE "Run privileged open source workloads on Autopilot": "By default, GKE Autopilot enforces security constraints
# that reject workloads that need elevated privileges in the cluster. For example, you can't, by default, run a
# Pod that enables privileged mode or adds the NET_RAW Linux capability."
AUTOPILOT_PRIVILEGED = "https://cloud.google.com/kubernetes-engine/docs/concepts/run-autopilot-open-source-workloads"
# Kubernetes API reference, Pod resources (requests must not exceed limits, kubernetes/kubernetes#115434; the API
# server answers "Invalid value: ...: must be less than or equal to cpu limit") and the Quantity format.
K8S_RESOURCES = "https://kubernetes.io/docs/reference/kubernetes-api/workload-resources/pod-v1/#resources"
K8S_QUANTITY = "https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/"


@dataclass(frozen=True)
class Rule:
    """One of Composer 3's pod rules: what it checks, what Composer does with a pod that breaks it, and where
    that is documented."""

    name: str
    severity: Severity
    source: str
    summary: str


@dataclass(frozen=True)
class PodFinding:
    """One way a pod breaks a rule: `refused` fails the task, `changed` runs it as the message says."""

    rule: str
    severity: Severity
    message: str
    source: str

    @property
    def blocking(self) -> bool:
        return self.severity == REFUSED

    def line(self) -> str:
        return f"{_PREFIX[self.severity]} {self.message} (see {self.source})"


GIB = Decimal(1024**3)
MIB = Decimal(1024**2)
# Autopilot general-purpose compute class, per pod (requests summed over its containers). The minimums are those
# of clusters with Pod bursting (GKE 1.30.2-gke.1394000 and later, cluster created on 1.26 or later); without
# bursting Autopilot's minimum CPU is 250m. No Composer 3 page states these numbers: they are Autopilot's. Above a
# maximum Autopilot rejects the pod (the page's general rule); an older version of the page said it scales an
# ephemeral-storage request above the maximum down instead: this lint keeps the general rule (refused).
CPU_MIN, CPU_MAX = Decimal("0.05"), Decimal(30)
MEMORY_MIN, MEMORY_MAX = 52 * MIB, 110 * GIB
RATIO_MIN, RATIO_MAX = Decimal(1), Decimal("6.5")  # GiB of memory per vCPU
EPHEMERAL_MIN, EPHEMERAL_MAX = 10 * MIB, 10 * GIB
# Capabilities Autopilot never grants to an ordinary pod (its allowed list never held them).
FORBIDDEN_CAPABILITIES = frozenset({"SYS_ADMIN", "CAP_SYS_ADMIN", "ALL"})

RULES: dict[str, Rule] = {rule.name: rule for rule in (
    Rule("namespace", CHANGED, COMPOSER_KPO,
         f"another namespace: Composer runs the pod in {NAMESPACE} anyway"),
    Rule("sidecar", REFUSED, COMPOSER_KPO,
         f"a sidecar container other than one named {XCOM_SIDECAR}, or more than one sidecar"),
    Rule("affinity", REFUSED, COMPOSER_KPO, "affinity: not available on Composer 3"),
    Rule("host-path", REFUSED, AUTOPILOT_SECURITY, "a hostPath volume"),
    Rule("privileged", REFUSED, AUTOPILOT_PRIVILEGED, "a privileged container"),
    Rule("capabilities", REFUSED, AUTOPILOT_PRIVILEGED, "a container adding SYS_ADMIN (or ALL) capabilities"),
    Rule("host-namespaces", REFUSED, AUTOPILOT_SECURITY, "hostNetwork, hostPID or hostIPC"),
    Rule("quantity", REFUSED, K8S_QUANTITY, "a resource value that is not a Kubernetes quantity"),
    Rule("limit-below-request", REFUSED, K8S_RESOURCES, "a container's limit below its request"),
    Rule("cpu-minimum", CHANGED, AUTOPILOT_REQUESTS,
         f"CPU request below {CPU_MIN.normalize()} vCPU: Composer raises it to {CPU_MIN.normalize()} vCPU"),
    Rule("cpu-maximum", REFUSED, AUTOPILOT_REQUESTS, f"CPU request above {CPU_MAX} vCPU"),
    Rule("memory-minimum", CHANGED, AUTOPILOT_REQUESTS, "memory request below 52 MiB: Composer raises it to 52 MiB"),
    Rule("memory-maximum", REFUSED, AUTOPILOT_REQUESTS, "memory request above 110 GiB"),
    Rule("memory-per-cpu", CHANGED, AUTOPILOT_REQUESTS,
         f"memory outside {RATIO_MIN}-{RATIO_MAX} GiB per vCPU: Composer raises the smaller of the two requests"),
    Rule("ephemeral-minimum", CHANGED, AUTOPILOT_REQUESTS,
         "ephemeral-storage request below 10 MiB: Composer raises it to 10 MiB"),
    Rule("ephemeral-maximum", REFUSED, AUTOPILOT_REQUESTS, "ephemeral-storage request above 10 GiB"),
)}

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


def _fmt_cpu(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _finding(rule: str, message: str) -> PodFinding:
    spec = RULES[rule]
    return PodFinding(rule, spec.severity, message, spec.source)


def pod_findings(pod: dict[str, Any]) -> list[PodFinding]:
    """Every way `pod` breaks Composer 3's KubernetesPodOperator rules, each refused or changed."""
    findings: list[PodFinding] = []
    meta = pod.get("metadata") or {}
    spec = pod.get("spec") or {}
    name = meta.get("name") or "pod"

    # Composer 3 KPO page: "Pods always run in the composer-user-workloads namespace, even if a different
    # namespace is specified." The pod runs, elsewhere than written: changed.
    namespace = meta.get("namespace")
    if namespace and namespace != NAMESPACE:
        findings.append(_finding("namespace", f"{name}: namespace {namespace!r} is not used: Composer runs the pod "
                                              f"in {NAMESPACE}"))

    # Composer 3 KPO page: "It isn't possible to run multiple additional sidecar containers in Cloud Composer 3.
    # You can run a single sidecar container if it is named airflow-xcom-sidecar." Native sidecars are init
    # containers that keep running (restartPolicy Always).
    containers = list(spec.get("containers") or [])
    native = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    sidecars = containers[1:] + native
    for extra in sidecars:
        if extra.get("name") != XCOM_SIDECAR:
            findings.append(_finding("sidecar", f"{name}: sidecar container {extra.get('name')!r} is not allowed: "
                                                f"Composer 3 runs one sidecar only, named {XCOM_SIDECAR}"))
    if len(sidecars) > 1 and all(c.get("name") == XCOM_SIDECAR for c in sidecars):
        findings.append(_finding("sidecar", f"{name}: {len(sidecars)} sidecars: Composer 3 allows a single "
                                            f"{XCOM_SIDECAR}"))

    # Composer 3 KPO page: Pod affinity configuration is not available; use the GKE operators on another cluster.
    if spec.get("affinity"):
        findings.append(_finding("affinity", f"{name}: affinity is set: Composer 3 does not support affinity (use "
                                             "the GKE operators to run the pod on another cluster)"))

    # Autopilot security constraints (GKE Warden: autogke-no-write-mode-hostpath).
    for volume in spec.get("volumes") or []:
        if volume.get("hostPath"):
            findings.append(_finding("host-path", f"{name}: volume {volume.get('name')!r} is a hostPath: Composer 3 "
                                                  "(GKE Autopilot) does not give pods the node's paths"))

    # Autopilot rejects privileged mode and capabilities beyond its allowed list (autogke-disallow-privilege,
    # autogke-default-linux-capabilities).
    for container in [*containers, *(spec.get("initContainers") or [])]:
        cname = container.get("name")
        security = container.get("securityContext") or {}
        if security.get("privileged"):
            findings.append(_finding("privileged", f"{name}: container {cname!r} is privileged: Composer 3 (GKE "
                                                   "Autopilot) rejects privileged pods"))
        caps = ((security.get("capabilities") or {}).get("add")) or []
        forbidden = [str(c) for c in caps if str(c).upper() in FORBIDDEN_CAPABILITIES]
        if forbidden:
            findings.append(_finding("capabilities", f"{name}: container {cname!r} adds capabilities {forbidden}: "
                                                     "Composer 3 (GKE Autopilot) rejects them"))

    # Autopilot rejects host namespaces (autogke-disallow-hostnamespaces).
    host = [field for field in ("hostNetwork", "hostPID", "hostIPC") if spec.get(field)]
    if host:
        findings.append(_finding("host-namespaces", f"{name}: {'/'.join(host)} is set: Composer 3 (GKE Autopilot) "
                                                    "rejects host namespaces"))

    findings.extend(_resources(name, containers))
    return findings


def _resources(name: str, containers: list[dict[str, Any]]) -> list[PodFinding]:
    """Requests summed over the pod, as Autopilot validates them (missing ones get Autopilot's defaults)."""
    findings: list[PodFinding] = []
    totals: dict[str, Decimal] = {}
    unreadable: set[str] = set()  # a kind whose total is unknown: its ranges are not checked
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
                findings.append(_finding("quantity", f"{name}: container {container.get('name')!r}: {kind} {raw!r} "
                                                     "is not a quantity: the Kubernetes API server rejects the pod"))
                unreadable.add(kind)
                continue
            totals[kind] = totals.get(kind, Decimal(0)) + value
            limit = quantity(limits[kind]) if kind in limits else None
            if limit is not None and limit < value:
                findings.append(_finding("limit-below-request",
                                         f"{name}: container {container.get('name')!r}: {kind} limit {limits[kind]} "
                                         f"is below its request {raw}: the Kubernetes API server rejects the pod"))
    for kind in unreadable:
        totals.pop(kind, None)
    cpu, memory, disk = totals.get("cpu"), totals.get("memory"), totals.get("ephemeral-storage")
    # "Resource requests in Autopilot": below a minimum, Autopilot raises the request (changed); above a maximum,
    # it rejects the pod (refused).
    if cpu is not None and cpu < CPU_MIN:
        findings.append(_finding("cpu-minimum", f"{name}: CPU request {_fmt_cpu(cpu)} vCPU is below Autopilot's "
                                                "minimum: Composer raises the CPU request to "
                                                f"{_fmt_cpu(CPU_MIN)} vCPU"))
    if cpu is not None and cpu > CPU_MAX:
        findings.append(_finding("cpu-maximum", f"{name}: CPU request {_fmt_cpu(cpu)} vCPU is above Composer 3's "
                                                f"maximum of {CPU_MAX} vCPU: the pod is rejected"))
    if memory is not None and memory < MEMORY_MIN:
        findings.append(_finding("memory-minimum", f"{name}: memory request {_fmt_bytes(memory)} is below "
                                                   f"Autopilot's minimum: Composer raises the memory request to "
                                                   f"{_fmt_bytes(MEMORY_MIN)}"))
    if memory is not None and memory > MEMORY_MAX:
        findings.append(_finding("memory-maximum", f"{name}: memory request {_fmt_bytes(memory)} is above Composer "
                                                   f"3's maximum of {_fmt_bytes(MEMORY_MAX)}: the pod is rejected"))
    if cpu and memory is not None:
        findings.extend(_ratio(name, max(cpu, CPU_MIN), max(memory, MEMORY_MIN)))
    if disk is not None and disk < EPHEMERAL_MIN:
        findings.append(_finding("ephemeral-minimum", f"{name}: ephemeral-storage request {_fmt_bytes(disk)} is below "
                                                      "Autopilot's minimum: Composer raises it to "
                                                      f"{_fmt_bytes(EPHEMERAL_MIN)}"))
    if disk is not None and disk > EPHEMERAL_MAX:
        findings.append(_finding("ephemeral-maximum", f"{name}: ephemeral-storage request {_fmt_bytes(disk)} is above "
                                                      f"Composer 3's maximum of {_fmt_bytes(EPHEMERAL_MAX)}: the pod "
                                                      "is rejected"))
    return findings


def _ratio(name: str, cpu: Decimal, memory: Decimal) -> list[PodFinding]:
    """Autopilot: outside the class's memory-per-vCPU range, it "automatically increases the smaller resource".
    Measured on the requests as Composer will have raised them to the minimums."""
    ratio = (memory / GIB) / cpu
    what = (f"{name}: memory/CPU ratio {ratio:.2f} GiB per vCPU is outside Autopilot's {RATIO_MIN}-{RATIO_MAX} "
            "GiB per vCPU")
    if ratio > RATIO_MAX:  # too little CPU for the memory: the CPU request is raised
        raised = Decimal(math.ceil(memory / GIB / RATIO_MAX * 1000)) / 1000
        return [_finding("memory-per-cpu", f"{what}: Composer raises the CPU request to {_fmt_cpu(raised)} vCPU")]
    if ratio < RATIO_MIN:  # too little memory for the CPU: the memory request is raised
        return [_finding("memory-per-cpu", f"{what}: Composer raises the memory request to "
                                           f"{_fmt_bytes(cpu * RATIO_MIN * GIB)}")]
    return []


def lint_pod(pod: dict[str, Any]) -> list[str]:
    """Every way `pod` breaks Composer 3's KubernetesPodOperator rules, one line each, starting with
    "refused:" (the task fails) or "changed by Composer:" (it runs, as the line says)."""
    return [finding.line() for finding in pod_findings(pod)]


def is_changed(line: str) -> bool:
    """Whether a line (optionally after "dag.task: ") reports something Composer changes rather than refuses."""
    return line.startswith(CHANGED_PREFIX) or f": {CHANGED_PREFIX} " in line


class _OfflineHook:
    """Stands in for the operator's Kubernetes hook: building the pod must not need a cluster or kubeconfig."""

    is_in_cluster = False

    def get_namespace(self) -> str | None:
        return None

    def get_xcom_sidecar_container_image(self) -> str | None:
        return None

    def get_xcom_sidecar_container_resources(self) -> dict[str, Any] | None:
        return None

    def get_xcom_sidecar_container_security_context(self) -> dict[str, Any] | None:  # asked by provider 10.2x
        return None


def build_pod(operator: Any) -> dict[str, Any]:
    """The pod a KubernetesPodOperator task would launch, built offline, as the API takes it."""
    from kubernetes.client import ApiClient

    operator.__dict__.setdefault("hook", _OfflineHook())  # `hook` is a cached_property: this pre-fills it
    return dict(ApiClient().sanitize_for_serialization(operator.build_pod_request_obj()))


def render_dry_run(operator: Any) -> None:
    """The provider's own `dry_run()`, built offline, its printed YAML discarded: that method calls
    `build_pod_request_obj` its own way (provider 10.25: with dry_run=True), so an operator that overrides it
    fails here as the provider's API really calls it. Only whether it renders matters: the pod itself is
    `build_pod`'s (reading the YAML back cost a quarter of the parity check at 50 projects)."""
    operator.__dict__.setdefault("hook", _OfflineHook())
    with contextlib.redirect_stdout(io.StringIO()):
        operator.dry_run()
