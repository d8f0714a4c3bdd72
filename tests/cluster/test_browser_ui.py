"""Airflow's UI in a real browser on the real cluster, as a user meets it after `up`: the URL and the login `up`
printed, the sign-in form (a wrong password first: the form says so), every example DAG listed with no import
error, example1 triggered from the UI and watched until it succeeds, and its extract task's log read in the UI
after the task's pod was deleted (the logs volume's whole purpose). Screenshots of each step are written to
.state/test-artifacts/browser/; `AUTOMATION_README_PICTURES=1` also refreshes the README's two pictures."""

from __future__ import annotations

from typing import Any

import pytest

from automation.core.runner import Runner
from automation.providers import provider_for
from tests.browser import run_journey
from tests.cluster.support import cli, cluster_target, printed_url
from tests.conftest import HOST_CA

pytestmark = pytest.mark.cluster


def test_the_ui_up_printed_signs_in_lists_triggers_and_shows_a_log_whose_pod_is_gone(
        k8s_cluster: Any, base_image: str) -> None:
    up = cli("up", "--skip-dags-check")  # a no-op when the target is up already
    assert up.returncode == 0, up.stdout + up.stderr
    url, user, password = printed_url(up.stdout)
    images = cli("images", "--base-image", base_image, *(["--ca-bundle", str(HOST_CA)] if HOST_CA.is_file() else []))
    assert images.returncode == 0, images.stderr
    # New image tags reach the DAGs on their next parse: e2e waits for it (as a user's first run would).
    e2e = cli("e2e", "--dag", "example1", "--timeout", "600")
    assert e2e.returncode == 0, e2e.stdout + e2e.stderr
    target, state = cluster_target()
    # Its worker pod (the KubernetesExecutor's) and its task pod (the KubernetesPodOperator's) carry both labels.
    namespaces = {target.namespace, provider_for(Runner(), target).task_pod_facts().namespace}

    def task_pods() -> list[str]:
        return [p["metadata"]["name"] for ns in sorted(namespaces)
                for p in state.list("Pod", ns, "dag_id=example1,task_id=extract")]

    run_journey(url, user, password, target.name, task_pods=task_pods,
                pictures={"dag-list": "dag-list.png", "task-log": "task-log.png"})
