"""The cloud side of the gke contract in the parity check: a values file that makes an Airflow pod run as an account
the Google account is not bound to is refused by `dags`, with one line naming the workload and the account."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import yaml

from tests.conftest import REPO, need, run_cli

CHART_DIR = Path(os.environ.get("AIRFLOW_CHART_DIR", "/work/shared/airflow-chart/chart"))


def overlay(tmp_path: Path, extra_values: dict[str, object] | None) -> Path:
    values = [str(REPO / "helm" / "values.yaml"), str(REPO / "helm" / "values-gke.yaml")]
    if extra_values is not None:
        (tmp_path / "extra.yaml").write_text(yaml.safe_dump(extra_values))
        values.append(str(tmp_path / "extra.yaml"))
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump({"targets": {"gke": {"chart": {"source": "path", "path": str(CHART_DIR)},
                                                        "values": values}}}))
    return path


def test_every_pod_that_mounts_a_bucket_is_bound_and_an_override_that_breaks_it_is_named(tmp_path: Path) -> None:
    need(shutil.which("helm") is not None and CHART_DIR.is_dir(), f"helm and the Airflow chart at {CHART_DIR}")
    fine = run_cli("dags", "--target", "gke", "--settings", str(overlay(tmp_path, None)), "--no-server")
    assert fine.returncode == 0, fine.stdout[-2000:] + fine.stderr

    broken = {"triggerer": {"serviceAccount": {"create": False, "name": "custom-triggerer"}}}
    result = run_cli("dags", "--target", "gke", "--settings", str(overlay(tmp_path, broken)), "--no-server")
    assert result.returncode == 2
    lines = [line for line in result.stdout.splitlines() if "problem: cloud:" in line]
    assert len(lines) == 1, result.stdout[-3000:]
    assert ("Deployment/airflow-triggerer runs as ServiceAccount 'custom-triggerer', which has no Workload Identity "
            "binding to airflow@my-gcp-project.iam.gserviceaccount.com") in lines[0]
    assert result.stderr.startswith("error: parity (target gke): ")
