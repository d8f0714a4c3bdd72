"""`upgrade-check` as a user runs it: real environments of the releases (made once under .state/upgrade-check/,
reused after); the repository's DAGs clean under the newest provider; DAGs written to break on the move from the
previous pin to 3.3.2 named, each with the check that caught it, and a non-zero exit."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from automation.core import lockfile
from automation.core.paths import STATE_ROOT
from automation.core.versions import VERSIONS
from automation.dags.gate import parse
from tests.conftest import REPO, need, run_cli

NEWEST = "3.3.2"  # the newest Airflow 3 release on PyPI when this was written (the pin)
NEWEST_PROVIDER = "10.25.0"  # the newest cncf-kubernetes provider then
# The previous pin and the provider its release's constraints pinned (the lock's, then).
PREVIOUS, PREVIOUS_PROVIDER = VERSIONS.airflow_previous, "10.15.0"
CHART = Path(os.environ.get("AIRFLOW_CHART_DIR", REPO.parent / "shared/airflow-chart/chart"))
# Each DAG works on the previous pin and breaks on 3.3.2 with the newest provider, each in the way one check
# catches.
BROKEN = {
    # Deprecated in 3.2 (a DeprecatedImportWarning), gone in 3.3: an import error.
    "stats_dag.py": '''"""Airflow DAG importing Stats from airflow's top level."""
from airflow import Stats
from airflow.sdk import DAG

with DAG("stats_dag", schedule=None):
    Stats.incr("parsed")
''',
    # An override as XComPodOperator's was: provider 10.25's dry_run() passes dry_run=True to it.
    "old_override.py": '''"""Airflow DAG whose operator's build_pod_request_obj takes no keyword arguments."""
from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.sdk import DAG


class LabelledPodOperator(KubernetesPodOperator):
    def build_pod_request_obj(self, context=None):
        pod = super().build_pod_request_obj(context)
        pod.metadata.labels["team"] = "data"
        return pod


with DAG("old_override", schedule=None):
    LabelledPodOperator(task_id="t", name="t", image="busybox:1.37", namespace="airflow")
''',
    # Parses and builds everywhere; fails when its task runs under provider 10.22+, which passes do_xcom_push.
    "old_signature.py": '''"""Airflow DAG whose PodManager overrides await_pod_completion with 10.15's parameters."""
from functools import cached_property

from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
from airflow.providers.cncf.kubernetes.utils.pod_manager import PodManager
from airflow.sdk import DAG


class PatientPodManager(PodManager):
    def await_pod_completion(self, pod, istio_enabled=False, container_name="base"):
        return super().await_pod_completion(pod, istio_enabled, container_name)


class PatientPodOperator(KubernetesPodOperator):
    @cached_property
    def pod_manager(self):
        return PatientPodManager(kube_client=self.client, callbacks=self.callbacks)


with DAG("old_signature", schedule=None):
    PatientPodOperator(task_id="t", name="t", image="busybox:1.37", namespace="airflow")
''',
    # Parses everywhere; fails when the task runs on Airflow 3 (ruff's AIR301).
    "old_context.py": '''"""Airflow DAG reading a context key Airflow 3 removed."""
from airflow.sdk import DAG, task

with DAG("old_context", schedule=None):

    @task
    def when(**context):
        return context["execution_date"]

    when()
''',
}


@pytest.fixture(scope="module")
def chart_env() -> dict[str, str]:
    need((CHART / "values.schema.json").is_file(), f"the Airflow chart at {CHART} (set AIRFLOW_CHART_DIR)")
    return {"AIRFLOW_CHART_DIR": str(CHART)}


def test_the_example_dags_move_to_the_newest_release_cleanly(chart_env: dict[str, str]) -> None:
    """From the pin (this session's Airflow and the lock's provider) to the newest release and provider."""
    locked = lockfile.versions((REPO / "uv.lock").read_text())["apache-airflow-providers-cncf-kubernetes"]
    result = run_cli("upgrade-check", "--to", NEWEST, "--provider-version", NEWEST_PROVIDER, env=chart_env,
                     timeout=1500)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert (f"Upgrade check: Airflow {VERSIONS.airflow}, cncf-kubernetes {locked} -> Airflow {NEWEST}, "
            f"cncf-kubernetes {NEWEST_PROVIDER}") in out
    assert "DAG files: 4 files, 4 DAGs parsed by the new release: ok" in out
    # Every pod, example_xcom's XCom task included, built and rendered through the newest provider's dry_run().
    assert "task pods: 8 task pods built by both releases, 0 changed" in out
    assert "Airflow rules: ruff --select AIR over dags/: ok" in out
    assert "overrides: the DAG folder's overrides of Airflow's methods, against the new release's: ok" in out
    assert "values.schema.json: ok" in out
    assert "0 blockers, 0 warnings" in out
    assert (STATE_ROOT / "upgrade-check" / NEWEST / "installed.json").is_file()
    again = run_cli("upgrade-check", "--to", NEWEST, "--provider-version", NEWEST_PROVIDER, env=chart_env,
                    timeout=900)
    assert again.returncode == 0 and f"environment of Airflow {NEWEST} reused" in again.stdout


def test_dags_written_to_break_on_the_new_release_are_named(tmp_path: Path, chart_env: dict[str, str]) -> None:
    dags = tmp_path / "dags"
    dags.mkdir()
    for name, text in BROKEN.items():
        (dags / name).write_text(text)
    # ... and a values file the chart's schema refuses.
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"scheduler": {"replicas": "two"}}))
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"targets": {"local": {"values": [
        str(REPO / "helm/values.yaml"), str(REPO / "helm/values-local.yaml"), str(bad)]}}}))
    result = run_cli("upgrade-check", "--from", PREVIOUS, "--from-provider-version", PREVIOUS_PROVIDER, "--to", NEWEST,
                     "--provider-version", NEWEST_PROVIDER, "--dags-folder", str(dags), "--settings", str(overlay),
                     env=chart_env, timeout=1500)
    out = result.stdout
    assert result.returncode == 2, out + result.stderr
    assert (f"blocker  stats_dag.py: import error under Airflow {NEWEST}: ImportError: cannot import name 'Stats' "
            "from 'airflow'") in out
    assert (f"blocker  old_override.t: its pod cannot be built under Airflow {NEWEST}: TypeError: "
            "LabelledPodOperator.build_pod_request_obj() got an unexpected keyword argument 'dry_run'") in out
    assert "blocker  old_context.py:8: AIR301 `execution_date` is removed in Airflow 3.0" in out
    assert "blocker  scheduler.replicas: 'two' is not of type 'integer'" in out
    assert ("blocker  old_signature.py:PatientPodManager.await_pod_completion: under Airflow 3.3.2: takes (self, pod, "
            "istio_enabled=False, container_name='base'), but Airflow's takes") in out
    # The override the provider's dry_run() failed on is also named as an override (dry_run is keyword-only).
    assert "blocker  old_override.py:LabelledPodOperator.build_pod_request_obj: under Airflow 3.3.2: takes (self, " \
        "context=None), but Airflow's takes (self, context=None, *, dry_run=False)" in out
    assert "6 blockers, 0 warnings" in out
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"error: upgrade to Airflow {NEWEST}: stats_dag.py: import")
    assert "(and 5 more, listed above)" in errors[0] and "Traceback" not in out + result.stderr
    assert f"nox -s upgrade-check -- --from {PREVIOUS} --to {NEWEST}" in errors[0]
    # On the release it comes from all of it loads and builds (the environment --from made): it is the move that
    # breaks it.
    before = parse(dags, pods=True, python=STATE_ROOT / "upgrade-check" / PREVIOUS / "venv" / "bin" / "python")
    assert before.versions == {"airflow": PREVIOUS, "cncf_kubernetes": PREVIOUS_PROVIDER}
    assert before.import_errors == {} and before.pod_errors == {} and "old_override.t" in before.pods
    assert before.overrides == {}  # 10.15 calls await_pod_completion with the three it takes
    assert any("stats_dag.py" in w and "DeprecatedImportWarning" in w for w in before.warnings)


def test_the_dry_run_prints_the_plan_and_makes_nothing() -> None:
    version = "3.0.6"
    folder = STATE_ROOT / "upgrade-check" / version
    if folder.exists():
        shutil.rmtree(folder)
    result = run_cli("upgrade-check", "--to", version, "--dry-run", "--provider-version", "10.5.0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "venv --no-config --quiet --clear --python 3.11" in result.stdout
    assert (f"'apache-airflow[cncf-kubernetes,postgres]=={version}' apache-airflow-providers-cncf-kubernetes==10.5.0"
            in result.stdout)
    assert "ruff check --select AIR" in result.stdout and not folder.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--to", "2.10.5"], "error: --to 2.10.5: upgrade-check compares released Airflow 3 versions (3.X.Y)"),
    (["--to", "3.3"], "error: --to 3.3: upgrade-check compares released Airflow 3 versions (3.X.Y)"),
    (["--to", NEWEST, "--from", "3.2"], "error: --from 3.2: upgrade-check compares released Airflow 3 versions"),
    (["--to", NEWEST, "--from", NEWEST], f"error: --from {NEWEST} and --to {NEWEST} are the same release"),
    (["--to", NEWEST, "--from-provider-version", "10.15.0"], "error: --from-provider-version is the provider of"),
    (["--to", "latest"], "error: --to latest: not a version number"),
    (["--to", NEWEST, "--provider-version", "newest"], "error: --provider-version newest: not a version number"),
    (["--to", NEWEST, "--dags-folder", "/nonexistent"], "error: --dags-folder /nonexistent is not a folder"),
])
def test_bad_input_is_one_line(args: list[str], message: str) -> None:
    result = run_cli("upgrade-check", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and result.stderr.startswith(message)
