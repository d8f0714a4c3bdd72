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
"""

from __future__ import annotations

from typing import Any

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator

from common.contract import XCOM_SIDECAR


class XComPodOperator(KubernetesPodOperator):
    """A KubernetesPodOperator whose XCom sidecar runs the task's image, hardened as the task's container."""

    def build_pod_request_obj(self, context: Any = None) -> Any:
        pod = super().build_pod_request_obj(context)
        containers = pod.spec.containers
        base = containers[0]
        for sidecar in containers[1:]:
            if sidecar.name == XCOM_SIDECAR:
                sidecar.image = base.image
                sidecar.image_pull_policy = base.image_pull_policy
                # The same non-root, no-capability context as the task: a restricted namespace admits both.
                sidecar.security_context = base.security_context
        return pod
