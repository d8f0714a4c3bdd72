"""The KubernetesPodOperator of tasks that return an XCom: the provider's own XCom sidecar, run from the task's
image.

With do_xcom_push the provider adds a sidecar (airflow-xcom-sidecar, the one sidecar Cloud Composer 3 allows)
that waits while the task writes /airflow/xcom/return.json, then is exec'd into to read it. Its image is the
Kubernetes connection's `xcom_sidecar_container_image`, else `alpine`, pulled from Docker Hub. Here the sidecar
runs the task's own worker image instead: the node already has it (the task's container needs it), so nothing
is pulled (clusters without Docker Hub access, air-gapped ones, this project's CI), and it has what the sidecar
runs (sh, sleep, and /proc for the provider's kill fallback). A connection extra would name one image for every
task and need a connection on every target (Composer manages its own); a subclass decides per task, from the pod
the provider built, on every target alike. Imported by project_task only: it imports Airflow.

Once the XCom is read, the provider stops the sidecar with `kill -2 $(pgrep ...)`, then a /proc loop when that
fails. Slim images have no pgrep, and the loop also signals the shell it runs in: whether its own exit reaches
the provider as an error is a race (seen failing a task whose pod had succeeded). The sidecar's shell is PID 1
of its container and exits on SIGINT (its trap), so it is stopped by exactly that: `kill -2 1`.
"""

from __future__ import annotations

from contextlib import closing
from functools import cached_property
from typing import Any

from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager
from kubernetes.stream import stream as kubernetes_stream

from common.contract import XCOM_SIDECAR
from common.utils.project_pod import ProjectPodOperator, PromptPodManager


class SidecarStoppingPodManager(PromptPodManager):
    """The project's PodManager, stopping the XCom sidecar by signalling its PID 1 (see the module's docstring)."""

    def extract_xcom_kill(self, pod: Any) -> None:
        with closing(kubernetes_stream(self._client.connect_get_namespaced_pod_exec, pod.metadata.name,
                                       pod.metadata.namespace, container=XCOM_SIDECAR,
                                       command=["/bin/sh", "-c", "kill -2 1"], stdin=False, stdout=True,
                                       stderr=True, tty=False, _preload_content=False)) as client:
            client.run_forever(timeout=60)
            if client.peek_stderr():
                self.log.warning("stopping %s: %s", XCOM_SIDECAR, client.read_stderr())


class XComPodOperator(ProjectPodOperator):
    """The project's pod operator, with an XCom sidecar that runs the task's image, hardened as the task's
    container."""

    @cached_property
    def pod_manager(self) -> PodManager:
        return SidecarStoppingPodManager(kube_client=self.client, callbacks=self.callbacks)

    def build_pod_request_obj(self, context: Any = None, **kwargs: Any) -> Any:
        # Keyword arguments pass through as the provider's signature has them: newer providers add some (10.25's
        # dry_run=True, which its own dry_run() passes), older ones take none.
        pod = super().build_pod_request_obj(context, **kwargs)
        containers = pod.spec.containers
        base = containers[0]
        for sidecar in containers[1:]:
            if sidecar.name == XCOM_SIDECAR:
                sidecar.image = base.image
                sidecar.image_pull_policy = base.image_pull_policy
                # The same non-root, no-capability context as the task: a restricted namespace admits both.
                sidecar.security_context = base.security_context
        return pod
