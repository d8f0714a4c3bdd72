"""example_xcom's XCom task rendered through the provider's own `dry_run()`: it calls `build_pod_request_obj` its
own way (provider 10.25 passes dry_run=True), so XComPodOperator's override must take what the base takes. The
upgrade check renders the same task the same way under the newest provider (tests/upgrade/test_check.py)."""

from __future__ import annotations

import contextlib
import io

import yaml

from tests.dag_files.test_dags_integrity import dagbag, task_env  # noqa: F401 (fixtures)


def test_the_xcom_task_renders_through_the_providers_dry_run(dagbag) -> None:  # noqa: F811
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from common.contract import XCOM_SIDECAR
    from common.utils.xcom_pod import XComPodOperator

    task = dagbag.dags["example_xcom"].get_task("summarize")
    assert isinstance(task, XComPodOperator)
    assert XComPodOperator.build_pod_request_obj is not KubernetesPodOperator.build_pod_request_obj
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        task.dry_run()  # the real hook, with the fixture's never-contacted kube config
    text = printed.getvalue()
    pod = yaml.safe_load(text[text.index("api_version:"):])  # after the operator's log lines, on stdout too
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    base, sidecar = containers["base"], containers[XCOM_SIDECAR]
    # The override ran on the provider's own path: the sidecar runs the task's image, hardened as the task.
    assert sidecar["image"] == base["image"]
    assert sidecar["security_context"] == base["security_context"]
    assert base["security_context"]["run_as_non_root"] is True


def test_the_override_passes_the_providers_keyword_arguments_through(dagbag) -> None:  # noqa: F811
    """What provider 10.25's dry_run() passes, given here on any provider: accepted and handed to the base."""
    import inspect

    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
    from common.utils.xcom_pod import XComPodOperator

    task = dagbag.dags["example_xcom"].get_task("summarize")
    base = inspect.signature(KubernetesPodOperator.build_pod_request_obj).parameters
    kwargs = {"dry_run": True} if "dry_run" in base else {}
    pod = task.build_pod_request_obj(**kwargs)
    assert pod.spec.containers[0].name == "base"
    override = inspect.signature(XComPodOperator.build_pod_request_obj).parameters
    assert any(p.kind is inspect.Parameter.VAR_KEYWORD for p in override.values())
