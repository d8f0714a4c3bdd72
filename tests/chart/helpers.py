"""`render_chart`: the official chart rendered by `helm template` with given values, every object validated
against the Kubernetes schema of the pinned version (strict), in the style of the chart's own helm tests."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import kubernetes_validate
import yaml

from automation.core.runner import Runner
from automation.core.versions import VERSIONS
from automation.providers import provider_for
from automation.providers.base import UpOptions
from automation.settings import load_target
from tests.conftest import REPO, need

CHART = Path(os.environ.get("AIRFLOW_CHART_DIR", REPO.parent / "shared/airflow-chart/chart"))
SCHEMA_VERSION = ".".join(VERSIONS.kubernetes.lstrip("v").split(".")[:2]) + ".0"


def target_values(target: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    """The values `up` would deploy for `target`, with `values` layered on top as a user's --values file."""
    with tempfile.TemporaryDirectory(prefix="values-") as tmp:
        extra = []
        if values:
            path = Path(tmp) / "extra.yaml"
            path.write_text(yaml.safe_dump(values))
            extra.append(str(path))
        provider = provider_for(Runner(dry_run=True, out=io.StringIO()), load_target(target))
        return provider.merged_values(UpOptions(values=extra))


def render_chart(values: dict[str, Any], show_only: list[str] | None = None, *, target: str | None = None,
                 namespace: str = "airflow", release: str = "airflow") -> list[dict[str, Any]]:
    """Every object the chart renders with `values` (merged over `target`'s own when a target is named)."""
    need(CHART.is_dir(), f"the Airflow chart at {CHART} (set AIRFLOW_CHART_DIR)")
    need(shutil.which("helm") is not None, "helm on PATH")
    if target is not None:
        values = target_values(target, values)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="values-") as handle:
        yaml.safe_dump(values, handle)
        handle.flush()
        cmd = ["helm", "template", release, str(CHART), "-n", namespace, "-f", handle.name,
               "--kube-version", VERSIONS.kubernetes]
        for template in show_only or []:
            cmd += ["--show-only", template]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    docs = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    for doc in docs:
        kubernetes_validate.validate(doc, SCHEMA_VERSION, strict=True)
    return docs
