"""What a failed or stuck run shows: the failed tasks' logs, their pods' states and events, and a watch that
fails at once when a task pod's image cannot be pulled."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

from automation.airflow.client import AirflowApi
from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.k8s.cluster import LiveCluster
from automation.providers import Provider


def report_failure(runner: Runner, provider: Provider, api: AirflowApi, dag_id: str, run_id: str,
                   tasks: list[dict[str, Any]], max_lines: int = 120) -> None:
    """The failed tasks' logs and their pods' states and events. A task whose image could not be pulled is a
    UserError naming `images`: the pod is gone by now (a pod that never started is deleted at once), its events
    are not."""
    failed = [t for t in tasks if t.get("state") == "failed"]
    for task in failed:
        try_number = int(task.get("try_number") or 1)
        lines = api.task_log(dag_id, run_id, task["task_id"], try_number, int(task.get("map_index", -1)))
        runner.say(f"--- log of task {task['task_id']} (try {try_number}), from the REST API")
        if len(lines) > max_lines:
            runner.say(f"    ... {len(lines) - max_lines} earlier lines left out")
        for line in lines[-max_lines:]:
            runner.say(f"    {line}")
    skipped = [t["task_id"] for t in tasks if t.get("state") in ("upstream_failed", "skipped")]
    if skipped:
        runner.say(f"--- not run because of the failure: {', '.join(skipped)}")
    pulls = pod_events(runner, provider, dag_id, run_id, [t["task_id"] for t in failed])
    if pulls:
        raise UserError(f"task(s) {', '.join(sorted(pulls))} could not start: the image is not available to the "
                        f"cluster ({'; '.join(sorted(set(pulls.values())))})",
                        f"build and load it: {provider.target.command('images')}", exit_code=1)


IMAGE_ERRORS = ("ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName")


def image_watch(runner: Runner, provider: Provider, dag_id: str, run_id: str) -> Callable[[], None] | None:
    """A check, made while tasks run, that fails at once when a task pod's image cannot be pulled: the
    operator would otherwise wait out its whole start-up timeout."""
    target = provider.target
    state = provider.state()
    if not isinstance(state, LiveCluster):
        return None
    selector = f"dag_id={safe_label(dag_id)},run_id={safe_label(run_id)}"

    def check() -> None:
        for pod in state.list("Pod", provider.task_pod_facts().namespace, selector=selector):
            for container in (pod.get("status") or {}).get("containerStatuses") or []:
                waiting = (container.get("state") or {}).get("waiting") or {}
                if waiting.get("reason") in IMAGE_ERRORS:
                    labels = pod["metadata"].get("labels") or {}
                    runner.say(f"--- pod {pod['metadata']['name']}: {waiting['reason']}: {waiting.get('message')}")
                    raise UserError(
                        f"task {labels.get('task_id', '?')} cannot start: image {container.get('image')} is not "
                        f"available to the cluster ({waiting['reason']})",
                        f"build and load it: {target.command('images')}", exit_code=1)

    return check


def gone_pods(events: list[dict[str, Any]], task_id: str) -> set[str]:
    """Names of the task's pods that events mention: TASK-SUFFIX (the executor's worker) and PROJECT-TASK-SUFFIX
    (project_task's operator). Pods are deleted when they end; their events stay for about an hour."""
    task = re.escape(safe_label(task_id).lower().replace("_", "-"))
    return {str(e["involvedObject"]["name"]) for e in events
            if (e.get("involvedObject") or {}).get("kind") == "Pod"
            and re.fullmatch(rf"(?:[a-z0-9.-]+-)?{task}-[a-z0-9]+", str(e["involvedObject"].get("name", "")))}


def pull_failure(message: str) -> str | None:
    """The kubelet's event for an image it could not pull, as 'IMAGE: failed to pull'; None for any other."""
    pulled = re.match(r'Failed to pull image "([^"]+)"', message)
    return f"{pulled.group(1)}: failed to pull" if pulled else None


def safe_label(value: str) -> str:
    """The label value the KubernetesPodOperator and executor give a task's pods (make_safe_label_value)."""
    safe = re.sub(r"^[^a-z0-9A-Z]*|[^a-zA-Z0-9_\-\.]|[^a-z0-9A-Z]*$", "", value)
    if len(safe) > 63 or value != safe:
        digest = hashlib.md5(value.encode()).hexdigest()[:9]
        safe = safe[: 63 - len(digest) - 1] + "-" + digest
    return safe


def pod_events(runner: Runner, provider: Provider, dag_id: str, run_id: str, task_ids: list[str],
               log_lines: int = 0) -> dict[str, str]:
    """Events of the failed tasks' pods, when a cluster answers; nothing (quietly) otherwise. With `log_lines`,
    also the last lines of each pod's task container (a failed pod is kept: delete_worker_pods_on_failure).
    The tasks whose image could not be pulled, with the event that says so."""
    pulls: dict[str, str] = {}
    if not task_ids:
        return pulls
    try:
        state = provider.state()
        if not isinstance(state, LiveCluster):
            return pulls
        namespace = provider.task_pod_facts().namespace
        events = state.list("Event", namespace)
        for task_id in task_ids:
            pods = state.list("Pod", namespace,
                              selector=f"dag_id={safe_label(dag_id)},task_id={safe_label(task_id)}")
            in_run = [p for p in pods if (p["metadata"].get("labels") or {}).get("run_id") == safe_label(run_id)]
            names = {p["metadata"]["name"] for p in (in_run or pods)}
            for pod in in_run or pods:
                status = pod.get("status") or {}
                runner.say(f"--- pod {pod['metadata']['name']} (task {task_id}): {status.get('phase')}")
                for container in status.get("containerStatuses") or []:
                    for kind, detail in (container.get("state") or {}).items():
                        if kind != "running" and detail:
                            runner.say(f"    {container['name']}: {kind} {detail.get('reason') or ''} "
                                       f"{detail.get('message') or ''}".rstrip())
                if log_lines:
                    names_in_pod = [c["name"] for c in (pod.get("spec") or {}).get("containers") or []]
                    container_name = "base" if "base" in names_in_pod else None  # the operator's task container
                    log = state.pod_log(pod["metadata"]["name"], namespace, tail=log_lines, container=container_name)
                    runner.say(f"    container log (last {log_lines} lines):")
                    for line in log.splitlines()[-log_lines:]:
                        runner.say(f"      {line}")
            # The task's pods that are gone too (its worker's may be kept, the task pod's is not): their events
            # stay for about an hour, under the pod's name, TASK-SUFFIX from the executor, PROJECT-TASK-SUFFIX
            # from project_task's operator.
            names |= gone_pods(events, task_id)
            for event in sorted((e for e in events if (e.get("involvedObject") or {}).get("name") in names),
                                key=lambda e: str(e.get("lastTimestamp") or e.get("eventTime") or "")):
                obj = event["involvedObject"]["name"]
                message = str(event.get("message") or "")
                runner.say(f"    event {obj}: {event.get('type')} {event.get('reason')}: {message}")
                pulled = pull_failure(message)
                if pulled:
                    pulls.setdefault(task_id, pulled)
    except Exception as exc:  # diagnostics must never hide the failure they explain
        if runner.verbose:
            runner.say(f"    (no pod events: {type(exc).__name__}: {exc})")
    return pulls
