"""`render`: every manifest validates against the Kubernetes schema of the pinned version (strict), the merged
values against the chart's values.schema.json, and the chart renders with them."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from automation.core.versions import VERSIONS
from tests.conftest import REPO, need, run_cli

CHART = Path(os.environ.get("AIRFLOW_CHART_DIR", REPO.parent / "shared/airflow-chart/chart"))
SCHEMA_VERSION = ".".join(VERSIONS.kubernetes.lstrip("v").split(".")[:2]) + ".0"


def validate_all(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)


def chart_overlay(tmp_path: Path, target: str) -> str:
    overlay = tmp_path / "chart.yaml"
    overlay.write_text(f"targets:\n  {target}:\n    chart: {{source: path, path: {CHART}}}\n")
    return str(overlay)


@pytest.mark.parametrize("target", ["local", "existing"])
def test_rendered_objects_and_values_are_valid(target: str, tmp_path: Path) -> None:
    result = run_cli("render", "--target", target, "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    docs = list(yaml.safe_load_all((tmp_path / "out/objects.yaml").read_text()))
    kinds = [d["kind"] for d in docs]
    assert kinds.count("PersistentVolume") == 3 and "Namespace" in kinds and "Secret" in kinds
    validate_all(docs)
    for pv in (d for d in docs if d["kind"] == "PersistentVolume"):
        assert pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    dags = next(d for d in docs if d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"] == "airflow-dags")
    assert dags["spec"]["accessModes"] == ["ReadOnlyMany"]
    need(CHART.is_dir(), f"the chart's values.schema.json at {CHART} (set AIRFLOW_CHART_DIR)")
    values = yaml.safe_load((tmp_path / "out/values.yaml").read_text())
    jsonschema.validate(values, json.loads((CHART / "values.schema.json").read_text()))
    assert values["executor"] == "KubernetesExecutor"
    assert values["fernetKeySecretName"] == "airflow-core-secrets"
    assert {"name": "dags-ro", "mountPath": "/opt/airflow/dags", "readOnly": True} in values["volumeMounts"]


def test_chart_renders_and_every_object_validates(tmp_path: Path) -> None:
    need(CHART.is_dir(), f"the Airflow chart at {CHART} (set AIRFLOW_CHART_DIR)")
    need(shutil.which("helm") is not None, "helm on PATH")
    result = run_cli("render", "--target", "existing", "--settings", chart_overlay(tmp_path, "existing"),
                     "--out", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    docs = [d for d in yaml.safe_load_all((tmp_path / "out/chart.yaml").read_text()) if d]
    validate_all(docs)
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert {"airflow-scheduler", "airflow-api-server", "airflow-dag-processor"} <= set(deployments)
    for name in ("airflow-scheduler", "airflow-dag-processor"):
        spec = deployments[name]["spec"]["template"]["spec"]
        mounts = [m for c in spec["containers"] for m in c.get("volumeMounts", []) if m["name"] == "dags-ro"]
        assert mounts and all(m["readOnly"] for m in mounts)
        claims = {v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"] if "persistentVolumeClaim" in v}
        assert {"airflow-dags", "airflow-logs"} <= claims
    secrets_made_by_chart = [d["metadata"]["name"] for d in docs if d["kind"] == "Secret"]
    assert not any("fernet" in name for name in secrets_made_by_chart), "the chart must not make its own key"
