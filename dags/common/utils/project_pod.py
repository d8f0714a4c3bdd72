"""The KubernetesPodOperator of every `project_task`: the provider's, with a cleanup that never leaves a pod
holding the cluster's room.

The provider keeps a failed pod under on_finish_action "delete_succeeded_pod", and judges it from the copy it
read when the pod was made: a pod whose image cannot be pulled, or that was never scheduled, is Pending in that
copy and stays Pending on the cluster for ever, its CPU and memory requests held, until no task pod fits on the
node. Here, when a task ends:
- its pod is read again, and deleted when it never started, whatever on_finish_action says (its events, which
  say why, are logged first: log_events_on_failure);
- the project's pods that earlier tasks were done with are pruned by the rule in `common.contract.leftovers`:
  every one that never started, and failed ones beyond the newest `keep_failed_pods` (a target setting).
A failed pod that ran is kept within that bound, for `kubectl logs/describe`; its log is in the task's log.

Its PodManager notices a pod's end promptly (PromptPodManager): the task's log ends when the container exits, and
the kubelet reports the pod's phase a moment later; the provider then reads the phase, finds it still Running and
sleeps 2 s before the next read (on the CI node: 2.5-2.8 s from the container's end to the pod's deletion, per
task, in benchmarks/task_time.py). Here the phase is read every COMPLETION_POLL s for up to COMPLETION_WINDOW s
first; then the provider's own loop reads the pod and decides, as before (same phases, same outcome).
The phase itself lags the container's exit by about a second more (the kubelet publishes it once it has torn the
pod down): a pod whose every container has ended is judged by the kubelet's own rule for restartPolicy Never
(`settled_phase`: Failed when a container failed, else Succeeded), as the provider already judges a pod with
sidecars by its container's exit code, and without waiting for the phase to say it.
The same lag meets the log stream: it may end before the kubelet reports the container's exit; the provider then
reads the pod once, finds the container still running, sleeps 1 s and reads the log again from its last line
(its warning for it was in 155 of 313 task logs on the CI node).
Here, when a followed stream has ended, the container's state is read every END_POLL s for up to END_WINDOW s
before the provider is told it still runs; then its own loop goes on as before (same log, same outcome).
Imported by project_task only: it imports Airflow.
"""

from __future__ import annotations

import inspect
import time
from functools import cache, cached_property
from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager, PodPhase
from kubernetes.client import ApiClient
from kubernetes.client.exceptions import ApiException

from common.contract import (
    CHECKED_LABEL,
    KEEP_FAILED_PODS,
    OPERATOR_LABEL,
    PROJECT_LABEL,
    leftovers,
    never_started,
    not_started_reason,
)

COMPLETION_POLL = 0.2
COMPLETION_WINDOW = 5.0
END_POLL = 0.1
END_WINDOW = 1.0


class PromptPodManager(PodManager):
    """The provider's PodManager, reading a finished container's state and its pod's phase more often for a moment
    (see the module's docstring)."""

    _following_logs = False

    def fetch_container_logs(self, *args: Any, **kwargs: Any) -> Any:
        # `follow` is keyword-only in the provider: the stream ends only at the container's exit (or a broken
        # connection) when it is followed.
        self._following_logs = bool(kwargs.get("follow"))
        try:
            return super().fetch_container_logs(*args, **kwargs)
        finally:
            self._following_logs = False

    def container_is_running(self, pod: Any, container_name: str) -> bool:
        running = super().container_is_running(pod, container_name)
        deadline = time.monotonic() + (END_WINDOW if self._following_logs else 0)
        while running and time.monotonic() < deadline:
            time.sleep(END_POLL)
            running = super().container_is_running(pod, container_name)
        return running

    def await_pod_completion(self, pod: Any, *args: Any, **kwargs: Any) -> Any:
        # The provider's own parameters, passed on as its operator gave them: (istio_enabled, container_name) up to
        # provider 10.15, do_xcom_push too since (positionally).
        given = _AWAIT_POD_COMPLETION.bind(self, pod, *args, **kwargs)
        given.apply_defaults()
        # With istio the pod never reaches a final phase, and with an XCom sidecar the provider (10.2x) stops at
        # the container's end: its own loop alone decides.
        fast = not (given.arguments.get("istio_enabled") or given.arguments.get("do_xcom_push"))
        deadline = time.monotonic() + (COMPLETION_WINDOW if fast else 0)
        while time.monotonic() < deadline:
            remote = settled(self.read_pod(pod))
            if remote.status.phase in PodPhase.terminal_states:
                return remote
            time.sleep(COMPLETION_POLL)
        return super().await_pod_completion(pod, *args, **kwargs)


def settled_phase(pod: Any) -> str | None:
    """The phase the kubelet publishes for a pod with restartPolicy Never once every container has ended: Failed
    when one exited non-zero, else Succeeded; None while one has not ended (or its state is not known)."""
    containers = [c.name for c in pod.spec.containers] if pod.spec else []
    if not containers or (pod.spec.restart_policy or "Always") != "Never":
        return None
    states = {c.name: c.state for c in (pod.status.container_statuses or [])}
    ended = [state.terminated if (state := states.get(name)) else None for name in containers]
    if not all(ended):
        return None
    return PodPhase.FAILED if any(t.exit_code != 0 for t in ended) else PodPhase.SUCCEEDED


def settled(pod: Any) -> Any:
    """The pod, with the phase it has settled on when the kubelet has not published it yet."""
    if pod.status is not None and pod.status.phase not in PodPhase.terminal_states:
        phase = settled_phase(pod)
        if phase is not None:
            pod.status.phase = phase
    return pod


_AWAIT_POD_COMPLETION = inspect.signature(PodManager.await_pod_completion)


@cache
def _serializer() -> ApiClient:
    # Only its pure serializer is used: no request is ever sent through it.
    return ApiClient()


def as_api_dict(pod: Any) -> dict[str, Any]:
    """A kubernetes model object as the API writes it (camelCase), the form `common.contract` reads."""
    return dict(_serializer().sanitize_for_serialization(pod))


class ProjectPodOperator(KubernetesPodOperator):
    """A KubernetesPodOperator that deletes its pod when it never started, and keeps at most `keep_failed_pods`
    failed pods of its project (see the module's docstring)."""

    def __init__(self, *, keep_failed_pods: int = KEEP_FAILED_PODS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if keep_failed_pods < 0:
            raise ValueError(f"keep_failed_pods: expected a whole number >= 0, got {keep_failed_pods}")
        self.keep_failed_pods = keep_failed_pods

    @cached_property
    def pod_manager(self) -> PodManager:
        return PromptPodManager(kube_client=self.client, callbacks=self.callbacks)

    def process_pod_deletion(self, pod: Any, *, reraise: bool = True) -> bool:
        current = self._current(pod)
        if pod is not None and current is None:
            self.log.info("Pod %s is already gone", pod.metadata.name)
            return True
        if current is not None and never_started(as_api_dict(current)):
            # Whatever on_finish_action says: nothing ran to inspect, and a Pending pod holds its requests.
            self.log.info("Deleting pod %s: it never started (%s)", current.metadata.name,
                          not_started_reason(as_api_dict(current)))
            try:
                self.pod_manager.delete_pod(current)
            except Exception:
                if reraise:
                    raise
                self.log.exception("Could not delete pod %s", current.metadata.name)
                return False
            return True
        return bool(super().process_pod_deletion(settled(current or pod), reraise=reraise))

    def cleanup(self, pod: Any, remote_pod: Any, xcom_result: dict[Any, Any] | None = None,
                context: Any = None) -> None:
        try:
            super().cleanup(pod, remote_pod, xcom_result, context)
        finally:
            # As the provider: a killed task's pod is deleted by on_kill, and no remote pod means none was made.
            if not self._killed and remote_pod is not None:
                self.delete_leftovers(remote_pod.metadata.namespace)

    def delete_leftovers(self, namespace: str) -> list[str]:
        """Delete the project's pods that their tasks are done with and `leftovers` names; the names deleted.
        Never raises: it runs while the task's own outcome (maybe an exception) is on its way out."""
        project = (self.labels or {}).get(PROJECT_LABEL)
        if not project:
            return []
        selector = f"{OPERATOR_LABEL}=True,{PROJECT_LABEL}={project},{CHECKED_LABEL}=True"
        deleted = []
        try:
            listed = self.client.list_namespaced_pod(namespace=namespace, label_selector=selector).items
            # This task's own pod may not show its final phase yet: judged as it has settled, like the task.
            pods = {p.metadata.name: settled(p) for p in listed}
            for found, why in leftovers([as_api_dict(p) for p in pods.values()], self.keep_failed_pods):
                name = found["metadata"]["name"]
                self.log.info("Deleting pod %s of project %s: %s", name, project, why)
                self.pod_manager.delete_pod(pods[name])
                deleted.append(name)
        except Exception as exc:
            self.log.warning("Could not delete the leftover pods of project %s in %s: %s", project, namespace, exc)
        return deleted

    def _current(self, pod: Any) -> Any:
        """The pod as it is now (the copy the provider passes may date from its creation); None when it is gone,
        the given copy when it cannot be read."""
        if pod is None:
            return None
        try:
            return self.pod_manager.read_pod(pod)
        except Exception as exc:
            if isinstance(exc, ApiException) and exc.status == 404:
                return None
            self.log.warning("Could not read pod %s (%s): deciding from its last known state", pod.metadata.name,
                             exc)
        return pod
