"""Airflow's components on the target's cluster, as the chart labels them (`component=...`), never by pod name.

Every day-2 command (`logs`, `shell`, `airflow`, `restart`) names components the same way and refuses an
unknown one with the list of those that exist. Cloud Composer gives no kubectl access to Airflow's own pods:
`cluster_only` says what to use there instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from automation.core.errors import UserError
from automation.k8s.cluster import LiveCluster
from automation.k8s.ready import components, pod_ready
from automation.providers import Provider

# Where the chart mounts the logs claim in every component (AIRFLOW_HOME/logs).
LOGS_PATH = "/opt/airflow/logs"
WORKLOAD_KINDS = ("Deployment", "StatefulSet")


@dataclass(frozen=True)
class Component:
    name: str  # the chart's `component` label: scheduler, api-server, ...
    kind: str  # Deployment or StatefulSet
    workload: str  # the object's name, e.g. airflow-scheduler
    containers: tuple[str, ...]
    # The logs claim is mounted in its main container (False: logs go to a bucket, as on GKE).
    mounts_logs_claim: bool = True

    @property
    def ref(self) -> str:
        """What kubectl takes to reach one of its pods: `deployment/airflow-scheduler`."""
        return f"{self.kind.lower()}/{self.workload}"

    @property
    def container(self) -> str:
        """The component's own container (the chart names it after the component), not a sidecar."""
        return self.name if self.name in self.containers or not self.containers else self.containers[0]


def serving_pod(pods: list[dict[str, Any]], container: str) -> str | None:
    """The pod a command should run in: `kubectl exec deployment/X` may pick a pod that is going away (mid-rollout
    the old pod is still Ready and older, which kubectl prefers), and a command in it is killed with it (exit 137).
    Ready pods first, then running ones, never one being deleted; the newest of those (a rollout's new revision)."""
    def running(pod: dict[str, Any]) -> bool:
        statuses = (pod.get("status") or {}).get("containerStatuses") or []
        return any(s.get("name") == container and "running" in (s.get("state") or {}) for s in statuses)

    alive = [p for p in pods if not p["metadata"].get("deletionTimestamp") and running(p)]
    best = [p for p in alive if pod_ready(p)] or alive
    if not best:
        return None
    return str(max(best, key=lambda p: p["metadata"].get("creationTimestamp") or "")["metadata"]["name"])


def exec_ref(provider: Provider, component: Component) -> str:
    """`pod/NAME` of the component's serving pod; its workload (kubectl's own pick) when no pod runs yet or in a
    dry run without a cluster."""
    state = provider.state()
    if not isinstance(state, LiveCluster):
        return component.ref
    target = provider.target
    pods = state.list("Pod", target.namespace, f"component={component.name},release={target.release}")
    name = serving_pod(pods, component.container)
    return f"pod/{name}" if name else component.ref


def kubectl(provider: Provider) -> list[str]:
    assert provider.cluster is not None  # every command that runs kubectl stopped at `cluster_only` without one
    return provider.cluster.kubectl(provider.target.namespace)


def discover(provider: Provider) -> dict[str, Component]:
    """The release's Deployments and StatefulSets that carry a `component` label, by component.

    A dry run without a cluster plans with the chart's defaults (each a Deployment named RELEASE-COMPONENT)."""
    target, state = provider.target, provider.state()
    if not isinstance(state, LiveCluster):
        if provider.runner.dry_run:
            provider.runner.say(f"    warning: cluster not reachable ({getattr(state, 'why', '?')}): planning "
                                f"with the chart's default components")
            return {name: Component(name, "Deployment", f"{target.release}-{name}", (name,))
                    for name in components(target)}
        raise UserError(f"the cluster of target {target.name!r} is not reachable: {getattr(state, 'why', '?')}",
                        f"start it: {target.command('up')}")
    found: dict[str, Component] = {}
    for kind in WORKLOAD_KINDS:
        for obj in state.list(kind, target.namespace, f"release={target.release}"):
            name = (obj["metadata"].get("labels") or {}).get("component")
            if not name:
                continue
            pod = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
            containers = tuple(c["name"] for c in pod.get("containers") or [])
            claims = {v["name"] for v in pod.get("volumes") or [] if v.get("persistentVolumeClaim")}
            main: dict[str, Any] = next((c for c in pod.get("containers") or [] if c["name"] == name), {})
            logs = any(m.get("mountPath") == LOGS_PATH and m.get("name") in claims
                       for m in main.get("volumeMounts") or [])
            found[name] = Component(name, kind, obj["metadata"]["name"], containers, logs)
    if not found:
        raise UserError(f"no Airflow components of release {target.release} in namespace {target.namespace}",
                        f"start Airflow: {target.command('up')}")
    return found


def resolve(provider: Provider, names: list[str]) -> list[Component]:
    """The named components (all of them when none is named); an unknown name is one error line listing the
    components that exist."""
    found = discover(provider)
    unknown = [n for n in names if n not in found]
    if unknown:
        raise UserError(f"unknown component {', '.join(repr(n) for n in unknown)} in release "
                        f"{provider.target.release} (components: {', '.join(sorted(found))})",
                        "name one of those")
    return [found[n] for n in dict.fromkeys(names)] if names else [found[n] for n in sorted(found)]


def resolve_one(provider: Provider, name: str) -> Component:
    return resolve(provider, [name])[0]


def cluster_only(provider: Provider, what: str, instead: str) -> None:
    """Stop a command that needs kubectl access to Airflow's pods on a target without it (Cloud Composer),
    naming what to use there. A dry run shows that command as the plan before stopping the same way."""
    if provider.cluster is not None:
        return
    if provider.runner.dry_run:
        provider.runner.plan(f"not run here; on Composer: {instead}")
    raise UserError(f"{what} needs kubectl access to Airflow's pods, which Cloud Composer does not give",
                    f"use: {instead}")


def composer_where(provider: Provider) -> str:
    """`ENV --location REGION --project PROJECT` of a Composer target (the gcloud equivalents name it)."""
    composer = provider.target.composer
    if composer is None:
        return "ENVIRONMENT --location REGION"
    return f"{composer.environment} --location {composer.region} --project {composer.project}"
