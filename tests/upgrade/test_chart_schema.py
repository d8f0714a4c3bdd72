"""The values `up` would deploy at the new release, against the pinned chart's values.schema.json."""

from __future__ import annotations

import io
import os
from pathlib import Path

import yaml

from automation.core.runner import Runner
from automation.settings import load_target
from automation.upgrade import chart_schema
from tests.conftest import REPO, need

CHART = Path(os.environ.get("AIRFLOW_CHART_DIR", REPO.parent / "shared/airflow-chart/chart"))


def test_the_local_targets_values_fit_the_chart_at_the_new_release() -> None:
    need((CHART / "values.schema.json").is_file(), f"the Airflow chart at {CHART} (set AIRFLOW_CHART_DIR)")
    result = chart_schema.check(Runner(out=io.StringIO()), load_target("local"), "3.3.2", CHART)
    assert (result.problems, result.skipped) == ([], "")


def test_a_values_file_the_schema_refuses_is_named(tmp_path: Path) -> None:
    need((CHART / "values.schema.json").is_file(), f"the Airflow chart at {CHART} (set AIRFLOW_CHART_DIR)")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({"scheduler": {"replicas": "two"}}))
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"targets": {"local": {"values": [
        str(REPO / "helm/values.yaml"), str(REPO / "helm/values-local.yaml"), str(bad)]}}}))
    result = chart_schema.check(Runner(out=io.StringIO()), load_target("local", [str(overlay)]), "3.3.2", CHART)
    assert result.problems == ["scheduler.replicas: 'two' is not of type 'integer'"]


def test_without_a_copy_of_the_chart_nothing_is_checked_and_it_says_so(monkeypatch) -> None:
    monkeypatch.delenv("AIRFLOW_CHART_DIR", raising=False)
    result = chart_schema.check(Runner(out=io.StringIO()), load_target("local"), "3.3.2", None)
    assert result.problems == [] and "pass --chart DIR or set AIRFLOW_CHART_DIR" in result.skipped
