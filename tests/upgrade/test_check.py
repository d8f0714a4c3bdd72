"""`upgrade-check --to 3.3.2` as a user runs it: a real environment of the new release (made once under
.state/upgrade-check/, reused after), the repository's DAGs clean, and DAGs written to break on 3.3.2 named, each
with the check that caught it, and a non-zero exit."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import yaml

from automation.core.paths import STATE_ROOT
from automation.dags.gate import parse
from tests.conftest import REPO, need, run_cli

NEWEST = "3.3.2"  # the newest Airflow 3 release on PyPI when this was written
CHART = Path(os.environ.get("AIRFLOW_CHART_DIR", REPO.parent / "shared/airflow-chart/chart"))
# Each DAG works on the pinned 3.2.0 and breaks on 3.3.2, each in the way one check catches.
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
    result = run_cli("upgrade-check", "--to", NEWEST, env=chart_env, timeout=1500)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert f"Upgrade check: Airflow 3.2.0, cncf-kubernetes 10.15.0 -> Airflow {NEWEST}, cncf-kubernetes " in out
    assert "DAG files: 4 files, 4 DAGs parsed by the new release: ok" in out
    # Every pod, example_xcom's XCom task included, built and rendered through the newest provider's dry_run().
    assert "task pods: 8 task pods built by both releases, 0 changed" in out
    assert "Airflow rules: ruff --select AIR over dags/: ok" in out
    assert "values.schema.json: ok" in out
    assert "0 blockers, 0 warnings" in out
    assert (STATE_ROOT / "upgrade-check" / NEWEST / "installed.json").is_file()
    again = run_cli("upgrade-check", "--to", NEWEST, env=chart_env, timeout=900)
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
    # On the pinned release all of it loads and builds: it is the new one that breaks it.
    now = parse(dags, pods=True)
    assert now.import_errors == {} and now.pod_errors == {} and "old_override.t" in now.pods
    assert any("stats_dag.py" in w and "DeprecatedImportWarning" in w for w in now.warnings)

    result = run_cli("upgrade-check", "--to", NEWEST, "--dags-folder", str(dags), "--settings", str(overlay),
                     env=chart_env, timeout=1500)
    out = result.stdout
    assert result.returncode == 2, out + result.stderr
    assert (f"blocker  stats_dag.py: import error under Airflow {NEWEST}: ImportError: cannot import name 'Stats' "
            "from 'airflow'") in out
    assert (f"blocker  old_override.t: its pod cannot be built under Airflow {NEWEST}: TypeError: "
            "LabelledPodOperator.build_pod_request_obj() got an unexpected keyword argument 'dry_run'") in out
    assert "blocker  old_context.py:8: AIR301 `execution_date` is removed in Airflow 3.0" in out
    assert "blocker  scheduler.replicas: 'two' is not of type 'integer'" in out
    assert "4 blockers, 0 warnings" in out
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"error: upgrade to Airflow {NEWEST}: stats_dag.py: import")
    assert "(and 3 more, listed above)" in errors[0] and "Traceback" not in out + result.stderr


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
    (["--to", "2.10.5"], "error: --to 2.10.5: upgrade-check moves to a released Airflow 3 version (3.X.Y)"),
    (["--to", "3.3"], "error: --to 3.3: upgrade-check moves to a released Airflow 3 version (3.X.Y)"),
    (["--to", "latest"], "error: --to latest: not a version number"),
    (["--to", NEWEST, "--provider-version", "newest"], "error: --provider-version newest: not a version number"),
    (["--to", NEWEST, "--dags-folder", "/nonexistent"], "error: --dags-folder /nonexistent is not a folder"),
])
def test_bad_input_is_one_line(args: list[str], message: str) -> None:
    result = run_cli("upgrade-check", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and result.stderr.startswith(message)
