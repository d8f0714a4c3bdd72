"""The target's CPU and memory against the cluster's: what its nodes can give, what is already requested (and how
much of it the target's own leftover task pods hold), and (Minikube) the size the settings ask for against the
size the node really has and this machine's."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from automation.core.machine import cluster_room
from automation.doctor.findings import Finding, blocker, ok, warn
from automation.doctor.probe import Probe
from automation.k8s.task_pods import holds_room, leftover_task_pods
from automation.settings.contract import not_started_reason

# A task pod's requests when its DAG gives none: dags/common/utils DEFAULT_RESOURCES (a unit test keeps them equal).
TASK_CPU = 0.1
TASK_MEMORY_MB = 256
_UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4,
          "m": 1e-3}


def quantity(text: str | int | float | None) -> float:
    """A Kubernetes quantity as a plain number: '1500m' -> 1.5, '8Gi' -> 8589934592."""
    match = re.fullmatch(r"([0-9.]+)([a-zA-Z]*)", str(text or "0").strip())
    if not match or match.group(2) not in _UNITS:
        return 0.0
    return float(match.group(1)) * _UNITS[match.group(2)]


def requested(pods: list[dict[str, Any]]) -> tuple[float, float]:
    """CPU and memory (bytes) requested by pods that hold their node's room (not finished)."""
    cpu = memory = 0.0
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            continue
        for container in (pod.get("spec") or {}).get("containers") or []:
            requests = (container.get("resources") or {}).get("requests") or {}
            cpu += quantity(requests.get("cpu"))
            memory += quantity(requests.get("memory"))
    return cpu, memory


def check_resources(probe: Probe) -> Finding:
    live = probe.live()
    if live is None:
        return Finding("cpu/memory", "n/a", "not checked: the cluster does not answer (see context)")
    nodes = live.list("Node")
    cpu = sum(quantity((n.get("status") or {}).get("allocatable", {}).get("cpu")) for n in nodes)
    memory = sum(quantity((n.get("status") or {}).get("allocatable", {}).get("memory")) for n in nodes)
    pods = live.list("Pod")
    used_cpu, used_memory = requested(pods)
    free_cpu, free_mb = cpu - used_cpu, (memory - used_memory) / 1024**2
    room = int(min(free_cpu / TASK_CPU, free_mb / TASK_MEMORY_MB)) if nodes else 0
    message = (f"{len(nodes)} node(s): {cpu:g} CPU / {memory / 1024**3:.1f} GiB allocatable, "
               f"{used_cpu:.2f} CPU / {used_memory / 1024**3:.1f} GiB requested; room for {max(room, 0)} task pods "
               f"of {TASK_CPU * 1000:.0f}m / {TASK_MEMORY_MB}Mi")
    size = minikube_size(probe, nodes)
    if size is not None:
        return size
    if room < 1:
        message += ": a task pod would stay Pending (FailedScheduling)"
        ours = own_leftovers(probe, pods)
        if ours:
            return blocker("cpu/memory", f"{message}; {ours}",
                           f"delete them: `{probe.command('prune')}` (their logs and events stay in the task logs)")
        return blocker("cpu/memory", message,
                       "free room on the cluster (other workloads' requests), or give it more CPU/memory")
    return ok("cpu/memory", message)


def own_leftovers(probe: Probe, pods: list[dict[str, Any]]) -> str:
    """This target's own task pods that hold room and will never run, with what they hold ("" when none). Each
    task deletes its own when it gives up; these are what a worker that died before its cleanup, or an older
    release of the DAG helpers, left: `prune` deletes them."""
    namespace = probe.provider.task_pod_facts().namespace
    held = [pod for pod, _ in leftover_task_pods(pods, namespace) if holds_room(pod)]
    if not held:
        return ""
    cpu, memory = requested(held)
    reasons = ", ".join(f"{reason}: {count}" for reason, count in
                        Counter(not_started_reason(pod) for pod in held).most_common())
    names = [pod["metadata"]["name"] for pod in held]
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    return (f"{len(held)} of this target's own task pods never started and hold {cpu:.2f} CPU / "
            f"{memory / 1024**2:.0f}Mi of it ({reasons}; {shown}, in namespace {namespace})")


def minikube_size(probe: Probe, nodes: list[dict[str, Any]]) -> Finding | None:
    """Minikube only: the settings' size against this machine's and the node's (a profile keeps the size it
    was created with)."""
    mk = probe.provider.node_size()
    if mk is None:
        return None
    room = cluster_room(probe.provider.runner, mk.driver)
    if mk.cpus > room.cpus or (room.memory_mb and mk.memory_mb > room.memory_mb):
        return blocker("cpu/memory", f"minikube asks for {mk.cpus} CPU / {mk.memory_mb} MB, {room.source} has "
                                     f"{room.cpus} CPU / {room.memory_mb} MB",
                       f"lower targets.{probe.target.name}.minikube.cpus/memory_mb (or --cpus/--memory)")
    if len(nodes) == 1:
        capacity = (nodes[0].get("status") or {}).get("capacity") or {}
        node_cpu, node_mb = quantity(capacity.get("cpu")), quantity(capacity.get("memory")) / 1024**2
        # The kubelet reports a little less memory than minikube was given: 10% tolerance.
        if int(node_cpu) != mk.cpus or abs(node_mb - mk.memory_mb) > mk.memory_mb * 0.1:
            return warn("cpu/memory", f"the node has {node_cpu:g} CPU / {node_mb:.0f} MB, the settings ask for "
                                      f"{mk.cpus} CPU / {mk.memory_mb} MB (a profile keeps its first size)",
                        f"set targets.{probe.target.name}.minikube to the node's size, or recreate the "
                        f"profile: `{probe.command('down', '--purge')}` (deletes its database and secrets), "
                        f"then `{probe.command('up')}`")
    return None
