"""The task pods' operator (dags/common/utils/project_pod.py) against an in-memory Kubernetes API, through the real
provider's code: a pod that never started is deleted when its task gives up, whatever on_finish_action says, after
its events went into the task's log; a failed pod that ran is kept within the target's bound."""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.conftest import REPO
from tests.dag_files.test_dags_integrity import KUBECONFIG

DAGS = REPO / "dags"
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                      f"sqlite:///{Path(os.environ['AIRFLOW_HOME']) / 'airflow.db'}")

PULL_ERROR = ('failed to pull and unpack image "127.0.0.1:5000/no-such-image:1": 127.0.0.1:5000/no-such-image:1: '
              "not found")
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.fixture
def dags(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """dags/ importable as in Airflow, the local target's defaults (no AUTOMATION_* set), and a kube config that
    is never contacted: the provider's hook reads one to tell whether it runs in a cluster."""
    for name in [k for k in os.environ if k.startswith("AUTOMATION_")]:
        monkeypatch.delenv(name)
    monkeypatch.syspath_prepend(str(DAGS))
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    # The client reads KUBECONFIG once, at import: another test may have imported it before this one.
    monkeypatch.setattr("kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION", str(kubeconfig))


# -- an in-memory CoreV1Api: just what the provider's operator and PodManager call ----------------------------------
def matches(labels: dict[str, str], selector: str | None) -> bool:
    for term in filter(None, (selector or "").split(",")):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class FakeApi:
    """Pods and events by name; `kubelet(pod)` gives a created pod the status a test wants."""

    def __init__(self, kubelet: Callable[[Any], None] | None = None, events: list[tuple[str, str, str]] = ()):
        from kubernetes.client import ApiClient

        self.api_client = ApiClient()
        self.pods: dict[str, Any] = {}
        self.deleted: list[str] = []
        self.kubelet = kubelet
        self.event_specs = list(events)

    def add(self, pod: Any) -> Any:
        self.pods[pod.metadata.name] = pod
        return pod

    def _get(self, name: str) -> Any:
        from kubernetes.client.exceptions import ApiException

        if name not in self.pods:
            raise ApiException(status=404, reason="Not Found")
        return self.pods[name]

    def create_namespaced_pod(self, body: dict[str, Any], namespace: str, **_: Any) -> Any:
        response = SimpleNamespace(data=json.dumps(body))
        pod = self.api_client.deserialize(response, "V1Pod")
        pod.metadata.creation_timestamp = T0 + dt.timedelta(minutes=len(self.pods))
        if self.kubelet is not None:
            self.kubelet(pod)
        return copy.deepcopy(self.add(pod))

    def read_namespaced_pod(self, name: str, namespace: str, **_: Any) -> Any:
        return copy.deepcopy(self._get(name))

    def list_namespaced_pod(self, namespace: str, label_selector: str | None = None, **_: Any) -> Any:
        from kubernetes.client import V1PodList

        return V1PodList(items=[copy.deepcopy(p) for p in self.pods.values()
                                if matches(p.metadata.labels or {}, label_selector)])

    def patch_namespaced_pod(self, name: str, namespace: str, body: dict[str, Any], **_: Any) -> Any:
        pod = self._get(name)
        pod.metadata.labels = {**(pod.metadata.labels or {}), **body["metadata"]["labels"]}
        return copy.deepcopy(pod)

    def delete_namespaced_pod(self, name: str, namespace: str, **_: Any) -> Any:
        self._get(name)
        del self.pods[name]
        self.deleted.append(name)

    def list_namespaced_event(self, namespace: str, field_selector: str = "", **_: Any) -> Any:
        # Events outlive their pod (about an hour), as on a real cluster.
        from kubernetes.client import CoreV1Event, CoreV1EventList, V1ObjectMeta, V1ObjectReference

        name = field_selector.removeprefix("involvedObject.name=")
        about = V1ObjectReference(name=name, field_path="spec.containers{base}")
        return CoreV1EventList(items=[
            CoreV1Event(metadata=V1ObjectMeta(uid=f"{name}-{i}", resource_version=str(i)), type=kind, reason=reason,
                        message=message, involved_object=about)
            for i, (kind, reason, message) in enumerate(self.event_specs)])


# -- pods in each state -------------------------------------------------------------------------------------------
def status(phase: str, *, waiting: str | None = None, message: str = "", terminated: int | None = None,
           scheduled: bool = True) -> Any:
    from kubernetes.client import (
        V1ContainerState,
        V1ContainerStateTerminated,
        V1ContainerStateWaiting,
        V1ContainerStatus,
        V1PodCondition,
        V1PodStatus,
    )

    containers = []
    if waiting:
        containers.append(V1ContainerStatus(name="base", image="x", image_id="", ready=False, restart_count=0,
                                            state=V1ContainerState(waiting=V1ContainerStateWaiting(
                                                reason=waiting, message=message))))
    if terminated is not None:
        containers.append(V1ContainerStatus(name="base", image="x", image_id="", ready=False, restart_count=0,
                                            state=V1ContainerState(terminated=V1ContainerStateTerminated(
                                                exit_code=terminated, reason="Error"))))
    condition = V1PodCondition(type="PodScheduled", status="True" if scheduled else "False",
                               reason=None if scheduled else "Unschedulable")
    return V1PodStatus(phase=phase, conditions=[condition], container_statuses=containers or None)


STATES: dict[str, tuple[Any, bool]] = {
    # name: (its status when the task gives up, deleted under on_finish_action delete_succeeded_pod)
    "image cannot be pulled": (lambda: status("Pending", waiting="ErrImagePull", message=PULL_ERROR), True),
    "image pull backing off": (lambda: status("Pending", waiting="ImagePullBackOff", message=PULL_ERROR), True),
    "never scheduled": (lambda: status("Pending", scheduled=False), True),
    "evicted before it started": (lambda: status("Failed"), True),
    "failed after running": (lambda: status("Failed", terminated=2), False),
    "still running": (lambda: status("Running"), False),
    "succeeded": (lambda: status("Succeeded", terminated=0), True),
}


def operator(**kwargs: Any) -> Any:
    from common.utils import project_task

    return project_task("example1", "extract", "example1/scripts/extract.py", **kwargs)


def context(op: Any, run_id: str = "manual__1") -> dict[str, Any]:
    ti = SimpleNamespace(dag_id="pods_test", task_id=op.task_id, map_index=-1, try_number=1,
                         xcom_push=lambda **_: None)
    return {"ti": ti, "run_id": run_id, "dag": SimpleNamespace(dag_id="pods_test")}


def wired(op: Any, api: FakeApi) -> Any:
    op.__dict__["client"] = api  # the provider's cached client: PodManager is built on it
    return op


def made(op: Any, api: FakeApi, pod_status: Any, run_id: str = "manual__1", checked: bool = False) -> Any:
    """The pod the operator would launch for a run, created in `api` with `pod_status`; the copy the provider
    keeps (`remote_pod`), read right after creation: Pending."""
    pod = op.build_pod_request_obj(context(op, run_id))
    pod.metadata.creation_timestamp = T0 + dt.timedelta(minutes=len(api.pods))
    if checked:
        pod.metadata.labels["already_checked"] = "True"
    snapshot = copy.deepcopy(pod)
    from kubernetes.client import V1PodStatus

    snapshot.status = V1PodStatus(phase="Pending")
    pod.status = pod_status
    api.add(pod)
    return snapshot


def messages(logs: list[dict[str, Any]]) -> str:
    lines = []
    for entry in logs:
        args = entry.get("positional_args") or ()
        lines.append(entry["event"] % args if args else str(entry["event"]))
    return "\n".join(lines)


@pytest.fixture
def captured() -> Iterator[list[dict[str, Any]]]:
    import structlog

    with structlog.testing.capture_logs() as logs:
        yield logs


# -- the tests ----------------------------------------------------------------------------------------------------
def test_every_task_pod_is_built_by_the_project_operator_with_events_logged(dags: None) -> None:
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from common.contract import CHECKED_LABEL, OPERATOR_LABEL, PROJECT_LABEL
    from common.utils.project_pod import ProjectPodOperator
    from common.utils.xcom_pod import XComPodOperator

    plain, xcom = operator(), operator(xcom=True)
    assert type(plain) is ProjectPodOperator
    assert type(xcom) is XComPodOperator and isinstance(xcom, ProjectPodOperator)
    for op in (plain, xcom):
        assert op.get_logs is True and op.log_events_on_failure is True
        assert op.on_finish_action.value == "delete_succeeded_pod"
        assert op.keep_failed_pods == 3
    # The label names the contract gives prune and doctor are the provider's own.
    labels = plain.build_pod_request_obj(context(plain)).metadata.labels
    assert labels[OPERATOR_LABEL] == "True" and labels[PROJECT_LABEL] == "example1"
    assert CHECKED_LABEL == KubernetesPodOperator.POD_CHECKED_KEY


@pytest.mark.parametrize("state", sorted(STATES))
@pytest.mark.parametrize("on_finish", ["delete_succeeded_pod", "keep_pod"])
def test_cleanup_deletes_a_pod_that_never_started_whatever_on_finish_action_says(
        dags: None, state: str, on_finish: str, captured: list[dict[str, Any]]) -> None:
    from airflow.sdk.exceptions import AirflowException

    make_status, deleted = STATES[state]
    never_started = state in ("image cannot be pulled", "image pull backing off", "never scheduled",
                              "evicted before it started")
    api = FakeApi(events=[("Warning", "Failed", f"Failed to pull image: {PULL_ERROR}")])
    op = wired(operator(on_finish_action=on_finish), api)
    snapshot = made(op, api, make_status())
    name = snapshot.metadata.name
    if state == "succeeded":
        op.cleanup(pod=snapshot, remote_pod=api.read_namespaced_pod(name, "airflow"))
    else:
        with pytest.raises(AirflowException, match="returned a failure"):
            # The provider judges from the copy read when the pod was made (Pending): the pod is read again.
            op.cleanup(pod=snapshot, remote_pod=snapshot)
    expected = never_started or (deleted and on_finish == "delete_succeeded_pod")
    assert (name in api.deleted) is expected, api.deleted
    if never_started:
        assert f"Deleting pod {name}: it never started" in messages(captured)
    if state != "succeeded":  # its events went into the task's log
        assert f"Failed to pull image: {PULL_ERROR}" in messages(captured)


def test_a_task_that_gives_up_on_an_image_pull_leaves_no_pod_and_logs_why(
        dags: None, captured: list[dict[str, Any]]) -> None:
    """The whole synchronous path of the provider: the pod is created, its start fails on ErrImagePull, the
    cleanup deletes it. The task's log holds the kubelet's words."""
    from airflow.sdk.exceptions import AirflowException

    def kubelet(pod: Any) -> None:
        pod.status = status("Pending", waiting="ErrImagePull", message=PULL_ERROR)

    api = FakeApi(kubelet, events=[("Normal", "Scheduled", "Successfully assigned airflow/x to node"),
                                   ("Warning", "Failed", f"Failed to pull image: {PULL_ERROR}"),
                                   ("Warning", "Failed", "Error: ErrImagePull")])
    op = wired(operator(startup_check_interval_seconds=1), api)
    with pytest.raises(AirflowException):
        op.execute(context(op))
    assert api.pods == {} and len(api.deleted) == 1
    log = messages(captured)
    assert f"Failed to pull image: {PULL_ERROR}" in log
    assert "Error: ErrImagePull" in log
    assert log.index(f"Failed to pull image: {PULL_ERROR}") < log.index(f"Deleting pod {api.deleted[0]}")


def test_a_pod_that_ran_is_judged_as_it_is_now_not_as_it_was_made(dags: None) -> None:
    """The provider's copy says Pending; the pod has since run and failed: it is kept, for inspection."""
    from airflow.sdk.exceptions import AirflowException

    api = FakeApi()
    op = wired(operator(), api)
    snapshot = made(op, api, status("Failed", terminated=1))
    with pytest.raises(AirflowException):
        op.cleanup(pod=snapshot, remote_pod=snapshot)
    assert api.deleted == [] and snapshot.metadata.name in api.pods
    assert api.pods[snapshot.metadata.name].metadata.labels["already_checked"] == "True"


def test_failed_pods_are_kept_within_the_bound_per_project(dags: None, captured: list[dict[str, Any]]) -> None:
    from airflow.sdk.exceptions import AirflowException
    from common.utils import project_task

    api = FakeApi()
    op = wired(operator(keep_failed_pods=2), api)
    old = [made(op, api, status("Failed", terminated=1), run_id=f"old{i}", checked=True).metadata.name
           for i in range(3)]
    stuck = made(op, api, status("Pending", waiting="ImagePullBackOff", message=PULL_ERROR), run_id="stuck",
                 checked=True).metadata.name
    # Not this operator's to judge: a pod no task is done with yet, and another project's failed pod.
    waiting = made(op, api, status("Pending", scheduled=False), run_id="waiting").metadata.name
    other = wired(project_task("example-db", "write", "example_db/scripts/write.py"), api)
    foreign = made(other, api, status("Failed", terminated=1), run_id="x", checked=True).metadata.name
    current = made(op, api, status("Failed", terminated=1), run_id="now")
    with pytest.raises(AirflowException):
        op.cleanup(pod=current, remote_pod=current)
    # Kept: the newest two failed ones of the project (this one and old2), and what is not the project's own.
    assert sorted(api.deleted) == sorted([old[0], old[1], stuck])
    assert {current.metadata.name, old[2], waiting, foreign} <= set(api.pods)
    assert f"Deleting pod {old[0]} of project example1: failed, older than the newest 2 kept" in messages(captured)


def test_zero_keeps_no_failed_pod_and_a_negative_bound_is_refused(dags: None) -> None:
    from airflow.sdk.exceptions import AirflowException

    api = FakeApi()
    op = wired(operator(keep_failed_pods=0), api)
    current = made(op, api, status("Failed", terminated=1))
    with pytest.raises(AirflowException):
        op.cleanup(pod=current, remote_pod=current)
    assert api.pods == {}
    with pytest.raises(ValueError, match="keep_failed_pods: expected a whole number >= 0, got -1"):
        operator(keep_failed_pods=-1)


def test_the_bound_is_the_targets_setting_written_by_automation_and_read_by_the_dag_helpers(
        dags: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Both sides of the contract: the environment the automation package gives a target's Airflow (the
    writer), read by the DAG helpers when they build a task (the reader)."""
    import yaml

    from automation.core.runner import Runner
    from automation.providers import provider_for
    from automation.settings import load_target

    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"targets": {"existing": {"keep_failed_pods": 7}}}))
    monkeypatch.delenv("AUTOMATION_SETTINGS", raising=False)
    env = provider_for(Runner(), load_target("existing", [str(overlay)])).task_env()
    assert env["AUTOMATION_KEEP_FAILED_PODS"] == "7"
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert operator().keep_failed_pods == 7 and operator(xcom=True).keep_failed_pods == 7
    assert operator(keep_failed_pods=1).keep_failed_pods == 1  # a task may still choose its own


# -- how promptly a pod's start and end are noticed ---------------------------------------------------------------
@pytest.mark.parametrize(("target", "seconds"), [("local", 0.25), ("existing", 0.25), ("gke", 1.0),
                                                ("composer", 1.0), ("composer-rehearsal", 1.0)])
def test_a_pod_start_is_checked_as_often_as_the_target_says(
        dags: None, monkeypatch: pytest.MonkeyPatch, target: str, seconds: float) -> None:
    """The provider's 5 s left each task waiting about 4.5 s for a pod already running (benchmarks/task_time.py).
    Both sides of the contract: the interval the automation package writes for the target (local clusters a
    quarter second; cloud targets, and the rehearsal of Composer, one second), read by the DAG helpers."""
    from automation.core.runner import Runner
    from automation.providers import provider_for
    from automation.settings import load_target

    monkeypatch.delenv("AUTOMATION_SETTINGS", raising=False)
    env = provider_for(Runner(), load_target(target)).task_env()
    assert float(env["AUTOMATION_POD_START_CHECK_SECONDS"]) == seconds
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for op in (operator(), operator(xcom=True)):
        assert op.startup_check_interval_seconds == seconds
        # What decides a start's failure is unchanged: the provider's timeouts.
        assert (op.schedule_timeout_seconds, op.startup_timeout_seconds) == (120, 120)
    assert operator(startup_check_interval_seconds=7).startup_check_interval_seconds == 7  # a task may choose


class Clock:
    """time.monotonic and time.sleep without waiting: each sleep advances the clock and is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class PhasedApi(FakeApi):
    """A pod whose phase, read after read, follows `phases` (the last one stays)."""

    def __init__(self, phases: list[str]) -> None:
        super().__init__()
        self.phases = phases

    def read_namespaced_pod(self, name: str, namespace: str, **_: Any) -> Any:
        phase = self.phases.pop(0) if len(self.phases) > 1 else self.phases[0]
        self._get(name).status = status(phase, terminated=None if phase == "Running" else int(phase == "Failed"))
        return super().read_namespaced_pod(name, namespace)


@pytest.mark.parametrize("xcom", [False, True])
@pytest.mark.parametrize("final", ["Succeeded", "Failed"])
def test_a_pods_end_is_noticed_within_a_fraction_of_a_second_and_judged_as_the_provider_does(
        dags: None, monkeypatch: pytest.MonkeyPatch, final: str, xcom: bool) -> None:
    """The container has exited (its log ended) and the kubelet reports the phase two reads later: the provider
    alone would sleep 2 s; the pod is returned as the provider's own loop read it, with its final phase."""
    import time

    from common.utils.project_pod import COMPLETION_POLL, PromptPodManager

    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    api = PhasedApi(["Running", "Running", final])
    op = wired(operator(xcom=xcom), api)
    pod = made(op, api, status("Running"))
    assert isinstance(op.pod_manager, PromptPodManager)
    remote = op.pod_manager.await_pod_completion(pod)
    assert remote.status.phase == final
    assert clock.sleeps == [COMPLETION_POLL, COMPLETION_POLL]


def test_it_takes_the_arguments_the_providers_operator_passes(dags: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The operator passes every PodManager.await_pod_completion parameter of its own version positionally (10.22:
    istio_enabled, container_name, do_xcom_push): the override takes and passes on as many as there are."""
    import inspect
    import time

    from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager

    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    parameters = list(inspect.signature(PodManager.await_pod_completion).parameters.values())[2:]  # after self, pod
    assert [p.name for p in parameters][:2] == ["istio_enabled", "container_name"]
    api = PhasedApi(["Running", "Succeeded"])
    op = wired(operator(), api)
    remote = op.pod_manager.await_pod_completion(made(op, api, status("Running")), *(p.default for p in parameters))
    assert remote.status.phase == "Succeeded"


def test_a_pod_still_running_after_the_window_is_left_to_the_providers_loop(
        dags: None, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from common.utils.project_pod import COMPLETION_POLL, COMPLETION_WINDOW

    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    fast = round(COMPLETION_WINDOW / COMPLETION_POLL)
    api = PhasedApi(["Running"] * (fast + 2) + ["Succeeded"])
    op = wired(operator(), api)
    remote = op.pod_manager.await_pod_completion(made(op, api, status("Running")))
    assert remote.status.phase == "Succeeded"
    assert clock.sleeps[:fast] == [COMPLETION_POLL] * fast and clock.sleeps[fast:] == [2, 2]  # the provider's
    # With istio the pod never reaches a final phase: no fast reads, the provider's own loop from the start.
    clock.sleeps.clear()
    api.phases = ["Running", "Succeeded"]
    op.pod_manager.await_pod_completion(made(op, api, status("Running"), run_id="istio"), istio_enabled=True)
    assert clock.sleeps == [2]


# -- the end of a followed log stream ----------------------------------------------------------------------------
def container_status(*, running: bool) -> Any:
    from kubernetes.client import (
        V1ContainerState,
        V1ContainerStateRunning,
        V1ContainerStateTerminated,
        V1ContainerStatus,
        V1PodStatus,
    )

    state = (V1ContainerState(running=V1ContainerStateRunning()) if running else
             V1ContainerState(terminated=V1ContainerStateTerminated(exit_code=0, reason="Completed",
                                                                    finished_at=dt.datetime.now(dt.UTC))))
    return V1PodStatus(phase="Running" if running else "Succeeded", container_statuses=[
        V1ContainerStatus(name="base", image="x", image_id="", ready=running, restart_count=0, state=state)])


class LaggingKubelet(FakeApi):
    """A container whose log stream ends (the clock's time when it is read to its end) `lag` s before the kubelet
    reports the container ended: until then every read of the pod says it runs."""

    def __init__(self, clock: Clock, lag: float) -> None:
        super().__init__()
        self.clock, self.lag = clock, lag
        self.ended: float | None = None
        self.log_reads = 0

    def read_namespaced_pod(self, name: str, namespace: str, **_: Any) -> Any:
        done = self.ended is not None and self.clock.now >= self.ended + self.lag
        self._get(name).status = container_status(running=not done)
        return super().read_namespaced_pod(name, namespace)

    def read_namespaced_pod_log(self, name: str, namespace: str, container: str, **_: Any) -> Any:
        self.log_reads += 1
        api = self

        class Response:
            def stream(self, amt: Any = None, decode_content: bool = True) -> Iterator[bytes]:
                yield f"2026-01-01T00:00:0{api.log_reads}.000000000Z line {api.log_reads}\n".encode()
                if api.ended is None:
                    api.ended = api.clock.now

            def release_conn(self) -> None:
                pass

        return Response()


@pytest.mark.parametrize("xcom", [False, True])
def test_a_followed_log_that_ended_is_read_once_and_the_containers_end_noticed_within_its_lag(
        dags: None, monkeypatch: pytest.MonkeyPatch, captured: list[dict[str, Any]], xcom: bool) -> None:
    """The kubelet reports the container's end 0.25 s after its log stream ended: the provider alone would sleep
    1 s and read the log again; here the state is read every END_POLL s and the log is read once."""
    import time

    from common.utils.project_pod import END_POLL

    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    api = LaggingKubelet(clock, lag=0.25)
    op = wired(operator(xcom=xcom), api)
    pod = made(op, api, container_status(running=True))
    result = op.pod_manager.fetch_container_logs(pod, "base", follow=True)
    assert result.running is False
    assert api.log_reads == 1
    assert clock.sleeps == [END_POLL] * 3
    assert "line 1" in messages(captured)


def test_a_container_still_running_after_the_window_is_left_to_the_providers_loop(
        dags: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stream that ended long before the container (a broken connection): after END_WINDOW s the provider's
    own loop sleeps 1 s and follows the log again, as it always did. An unfollowed read never waits."""
    import time

    from common.utils.project_pod import END_POLL, END_WINDOW

    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    api = LaggingKubelet(clock, lag=END_WINDOW + 0.5)
    op = wired(operator(), api)
    pod = made(op, api, container_status(running=True))
    assert op.pod_manager.fetch_container_logs(pod, "base", follow=True).running is False
    window = round(END_WINDOW / END_POLL)
    assert clock.sleeps[:window + 1] == [END_POLL] * window + [1]  # the provider's own sleep
    assert api.log_reads == 2
    clock.sleeps.clear()
    api.ended = None
    assert op.pod_manager.fetch_container_logs(pod, "base", follow=False).running is True
    assert clock.sleeps == []


# -- a pod whose containers ended before the kubelet published its phase -----------------------------------------
def ended_before_its_phase(exit_code: int) -> Any:
    """Every container terminated, the phase still Running: the kubelet publishes it about a second later."""
    pod_status = container_status(running=False)
    pod_status.phase = "Running"
    pod_status.container_statuses[0].state.terminated.exit_code = exit_code
    return pod_status


@pytest.mark.parametrize(("exit_code", "phase"), [(0, "Succeeded"), (2, "Failed")])
def test_a_pod_whose_containers_ended_is_judged_without_waiting_for_its_phase(
        dags: None, monkeypatch: pytest.MonkeyPatch, exit_code: int, phase: str) -> None:
    """The kubelet's rule for restartPolicy Never, applied as soon as the containers have ended: no sleep, and the
    task ends as it would once the phase is published (a failed container fails the task, its pod kept)."""
    import time

    from airflow.sdk.exceptions import AirflowException

    clock = Clock()
    monkeypatch.setattr(time, "monotonic", clock.monotonic)
    monkeypatch.setattr(time, "sleep", clock.sleep)
    api = FakeApi()
    op = wired(operator(), api)
    pod = made(op, api, ended_before_its_phase(exit_code))
    assert op.pod_manager.await_pod_completion(pod).status.phase == phase
    assert clock.sleeps == []
    # The operator's own end: the pod judged from its settled phase, deleted only when it succeeded.
    op.pod, op.remote_pod = pod, op.pod_manager.await_pod_completion(pod)
    if exit_code:
        with pytest.raises(AirflowException):
            op.cleanup(pod, op.remote_pod, context=context(op))
        assert api.deleted == [] and api.pods[pod.metadata.name].metadata.labels["already_checked"] == "True"
    else:
        op.cleanup(pod, op.remote_pod, context=context(op))
        assert api.deleted == [pod.metadata.name]


def test_the_settled_phase_is_the_kubelets_rule_and_nothing_more(dags: None) -> None:
    from common.utils.project_pod import settled_phase

    api = FakeApi()
    op = wired(operator(), api)
    pod = made(op, api, ended_before_its_phase(0))
    remote = api.read_namespaced_pod(pod.metadata.name, pod.metadata.namespace)
    assert remote.spec.restart_policy == "Never" and settled_phase(remote) == "Succeeded"
    remote.status = container_status(running=True)
    assert settled_phase(remote) is None  # still running
    remote.status = status("Running")
    assert settled_phase(remote) is None  # no container state known
    remote.status = ended_before_its_phase(1)
    remote.spec.restart_policy = "OnFailure"
    assert settled_phase(remote) is None  # the kubelet would start it again


def test_the_bound_counts_this_tasks_pod_before_its_phase_is_published(dags: None) -> None:
    """The task's pod failed a moment ago and the API still says Running: it is counted as the failed pod it is,
    so the older failed one goes (keep_failed_pods=1), as it did when the cleanup waited for the phase."""
    from airflow.sdk.exceptions import AirflowException

    api = FakeApi()
    op = wired(operator(keep_failed_pods=1), api)
    old = made(op, api, status("Failed", terminated=1), run_id="old", checked=True).metadata.name
    current = made(op, api, ended_before_its_phase(1), run_id="now")
    with pytest.raises(AirflowException):
        op.cleanup(pod=current, remote_pod=op.pod_manager.await_pod_completion(current))
    assert api.deleted == [old] and current.metadata.name in api.pods
