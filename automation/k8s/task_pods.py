"""This product's task pods on a cluster (the labels `project_task` and the provider's operator set), and which
of them are leftovers: the rule each task's operator applies when the task ends (`common.contract.leftovers`),
applied by `prune` and `doctor` to what is there now, pods left by an older release of the DAG helpers or by a
worker that died before its cleanup included."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from automation.settings.contract import (
    CHECKED_LABEL,
    OPERATOR_LABEL,
    PROJECT_LABEL,
    leftovers,
    never_started,
    not_started_reason,
)

# Every pod the provider's operator made for a project_task (the label `project` without a value: any project).
SELECTOR = f"{OPERATOR_LABEL}=True,{PROJECT_LABEL}"
# A pod waiting for one of these never starts: its task gives up on it (or already has).
CANNOT_START = ("ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull",
                "CreateContainerConfigError", "CreateContainerError")


def labels(pod: dict[str, Any]) -> dict[str, str]:
    return dict((pod.get("metadata") or {}).get("labels") or {})


def is_task_pod(pod: dict[str, Any], namespace: str) -> bool:
    """One of this product's task pods in the target's task namespace."""
    found = labels(pod)
    return ((pod.get("metadata") or {}).get("namespace") == namespace and found.get(OPERATOR_LABEL) == "True"
            and PROJECT_LABEL in found)


def done_with(pod: dict[str, Any]) -> bool:
    """No task will use this pod again: its operator marked it (a pod that did not succeed), it failed, or it
    never started and cannot (an image that cannot be pulled). A Pending pod waiting for room is none of these:
    its task may still be waiting for it."""
    if labels(pod).get(CHECKED_LABEL) == "True" or (pod.get("status") or {}).get("phase") == "Failed":
        return True
    return never_started(pod) and not_started_reason(pod) in CANNOT_START


def leftover_task_pods(pods: list[dict[str, Any]], namespace: str, keep_failed: int = 0) -> list[tuple[dict[str, Any],
                                                                                                      str]]:
    """The task pods in `namespace` to delete, each with why: per project, those `common.contract.leftovers`
    names among the ones no task will use again (every never-started one, failed ones beyond `keep_failed`)."""
    by_project: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pod in pods:
        if is_task_pod(pod, namespace) and done_with(pod):
            by_project[labels(pod)[PROJECT_LABEL]].append(pod)
    return [(dict(pod), why) for project in sorted(by_project)
            for pod, why in leftovers(by_project[project], keep_failed)]


def holds_room(pod: dict[str, Any]) -> bool:
    """Its requests count against its node (the scheduler frees those of finished pods only)."""
    return (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
