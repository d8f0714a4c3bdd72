"""Waiting for Airflow's components, with progress on one line, and a diagnosis when they do not come up."""

from __future__ import annotations

import time
from typing import Any

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.k8s.cluster import LiveCluster
from automation.settings.model import Target

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
# A Celery executor's own: its workers and their broker.
CELERY_COMPONENTS = ("worker", "redis")


def components(target: Target) -> tuple[str, ...]:
    """The components `up` waits for on this target (the chart's `component` labels)."""
    return COMPONENTS + (CELERY_COMPONENTS if target.executor == "CeleryExecutor" else ())


def ready_replicas(obj: dict[str, Any]) -> int:
    """Ready pods of a Deployment's or StatefulSet's current spec. Mid-rollout the old pods are still Ready: they
    do not count (an upgrade's verification must see the new version serve, not the one it replaces)."""
    status = obj.get("status") or {}
    ready = int(status.get("readyReplicas") or 0)
    if int(status.get("observedGeneration") or 0) < int(obj["metadata"].get("generation") or 0):
        return 0
    if "updatedReplicas" in status:
        return min(ready, int(status["updatedReplicas"] or 0))
    return ready


def component_status(state: LiveCluster, target: Target) -> dict[str, tuple[int, int]]:
    """ready/desired replicas by component, from the chart's Deployments and StatefulSets."""
    found: dict[str, tuple[int, int]] = {}
    for kind in ("Deployment", "StatefulSet"):
        for obj in state.list(kind, target.namespace, f"release={target.release}"):
            component = obj["metadata"].get("labels", {}).get("component")
            if component in components(target):
                found[component] = (ready_replicas(obj), obj.get("spec", {}).get("replicas", 1))
    return found


def old_pods_gone(runner: Runner, state: LiveCluster, target: Target, component: str,
                  timeout: float = 180) -> bool:
    """Wait until the component runs only its desired pods, none being deleted: after a rollout the replaced pods
    stay a while (Ready, or terminating), and a port-forward opened then may reach one. Whether it had to wait."""
    selector = f"component={component},release={target.release}"
    deadline = time.monotonic() + timeout
    waited = False
    while True:
        desired = sum(int((obj.get("spec") or {}).get("replicas", 1))
                      for kind in ("Deployment", "StatefulSet") for obj in state.list(kind, target.namespace, selector))
        # An evicted or completed pod lingers in the list but serves nothing.
        pods = [p for p in state.list("Pod", target.namespace, selector)
                if (p.get("status") or {}).get("phase") not in ("Failed", "Succeeded")]
        if len(pods) <= desired and not any(p["metadata"].get("deletionTimestamp") for p in pods):
            return waited
        if not waited:
            runner.say(f"    waiting for the replaced {component} pods to go")
            waited = True
        if time.monotonic() > deadline:
            raise UserError(f"{component} still has {len(pods)} pods {timeout:.0f}s after a rollout (wanted {desired})",
                            f"see them: {target.command('status')}")
        time.sleep(1)


def wait_ready(runner: Runner, state: LiveCluster, target: Target, timeout: float | None = None) -> float:
    timeout = timeout or target.ready_timeout
    t0 = time.monotonic()
    last = ""
    while True:
        status = component_status(state, target)
        wanted = components(target)
        line = ", ".join(f"{c} {status.get(c, (0, 1))[0]}/{status.get(c, (0, 1))[1]}" for c in wanted)
        if all(c in status and status[c][0] >= status[c][1] > 0 for c in wanted):
            runner.ok(f"ready after {time.monotonic() - t0:.0f}s: {line}")
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            diagnose(runner, state, target)
            raise UserError(f"Airflow was not ready after {timeout:.0f}s ({line})",
                            f"read the pod events and logs above; fix, then run `{target.command('up')}` again")
        if line != last or int(time.monotonic() - t0) % 15 == 0:
            runner.say(f"    [{time.monotonic() - t0:4.0f}s] {line}")
            last = line
        time.sleep(3)


def pod_ready(pod: dict[str, Any]) -> bool:
    """The pod's Ready condition is True."""
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _not_ready(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") != "Succeeded" and not pod_ready(pod)


def diagnose(runner: Runner, state: LiveCluster, target: Target) -> None:
    """Events and last log lines of every pod that is not ready."""
    events = state.list("Event", target.namespace)
    for pod in state.list("Pod", target.namespace):
        if not _not_ready(pod):
            continue
        name = pod["metadata"]["name"]
        runner.say(f"--- pod {name}: {pod.get('status', {}).get('phase')}")
        for container in pod.get("status", {}).get("containerStatuses") or []:
            waiting = (container.get("state") or {}).get("waiting")
            if waiting:
                runner.say(f"    {container['name']}: {waiting.get('reason')} {waiting.get('message') or ''}".rstrip())
        for event in events:
            if event.get("involvedObject", {}).get("name") == name and event.get("type") == "Warning":
                runner.say(f"    event: {event.get('reason')}: {event.get('message')}")
        for line in state.pod_log(name, target.namespace, tail=10).splitlines()[-10:]:
            runner.say(f"    log: {line}")
