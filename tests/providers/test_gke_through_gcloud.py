"""The gke target's Google Cloud side (`up --cloud-only`), through the real gcloud against the Google APIs double: the
plan, a first run that sends exactly what the plan said, a second run that finds everything and writes nothing;
and the contract between the chart and Workload Identity, both sides run in one test: every ServiceAccount any pod
of the rendered release or a task pod runs as is bound, the chart's jobs included."""

from __future__ import annotations

import os
import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, need, run_cli
from tests.google_double import GoogleDouble, Recorded
from tests.google_double.fixture import google_double

__all__ = ["google_double"]

CHART_DIR = Path(os.environ.get("AIRFLOW_CHART_DIR", "/work/shared/airflow-chart/chart"))
TARGET = "double-gke"
REGION = "us-central1"
BUCKETS = {"dags": "double-project-airflow-dags", "data": "double-project-airflow-data",
           "logs": "double-project-airflow-logs"}
GSA = "airflow@double-project.iam.gserviceaccount.com"
# What each gcloud command of the plan asks Google for (the discovery ids of its writes).
WRITES = {
    ("storage", "buckets", "create"): ["storage.buckets.insert"],
    ("iam", "service-accounts", "create"): ["iam.projects.serviceAccounts.create"],
    ("storage", "buckets", "add-iam-policy-binding"): ["storage.buckets.setIamPolicy"],
    ("iam", "service-accounts", "add-iam-policy-binding"): ["iam.projects.serviceAccounts.setIamPolicy"],
    ("artifacts", "repositories", "create"): ["artifactregistry.projects.locations.repositories.create"],
}
POD_KINDS = ("Deployment", "StatefulSet", "Job", "CronJob", "DaemonSet")


@pytest.fixture
def settings(tmp_path: Path, google_double: GoogleDouble) -> Iterator[Path]:
    need(shutil.which("gcloud") is not None, "the gcloud CLI (Google Cloud SDK)")
    need(shutil.which("helm") is not None and CHART_DIR.is_dir(), f"helm and the Airflow chart at {CHART_DIR}")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"targets": {TARGET: {
        "extends": "gke", "chart": {"source": "path", "path": str(CHART_DIR)},
        "gke": {"project": google_double.project, "region": REGION, "cluster": "airflow",
                "dags_bucket": BUCKETS["dags"], "data_bucket": BUCKETS["data"], "logs_bucket": BUCKETS["logs"],
                "google_service_account": GSA},
        "images": {"load": "registry", "registry": f"{REGION}-docker.pkg.dev/{google_double.project}/airflow"},
        "logs": {"remote_base": f"gs://{BUCKETS['logs']}/logs"}}}}))
    yield overlay
    shutil.rmtree(REPO / ".state" / TARGET, ignore_errors=True)


def cloud_only(google_double: GoogleDouble, settings: Path, tmp_path: Path, *flags: str) -> str:
    result = run_cli("up", "--target", TARGET, "--settings", str(settings), "--cloud-only", "--skip-dags-check",
                     *flags, env=google_double.environment(tmp_path / "gcloud"), timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def commands(stdout: str) -> list[list[str]]:
    return [shlex.split(line.strip().removeprefix("[dry-run] ")[2:])[1:] for line in stdout.splitlines()
            if line.strip().removeprefix("[dry-run] ").startswith("$ gcloud ")]


READS = (".get", ".list", ".getIamPolicy", ".testIamPermissions")


def writes(records: list[Recorded]) -> list[str]:
    """The requests that change something (IAM's getIamPolicy is a POST that reads)."""
    return [r.method for r in records if not r.method.endswith(READS)]


def expected_writes(plan: list[list[str]]) -> list[str]:
    found: list[str] = []
    for words in plan:
        found += next(methods for prefix, methods in WRITES.items() if tuple(words[: len(prefix)]) == prefix)
    return found


def google_pod_accounts(docs: list[dict[str, Any]]) -> set[str]:
    """The ServiceAccount of every pod of the rendered release that mounts Cloud Storage (GCS Fuse's annotation):
    workloads' templates and the KubernetesExecutor's pod template (a YAML file in the chart's ConfigMap)."""
    pods = []
    for doc in docs:
        spec = doc.get("spec") or {}
        if doc.get("kind") in POD_KINDS:
            pods.append((spec.get("jobTemplate", {}).get("spec", spec)).get("template", {}))
        if doc.get("kind") == "ConfigMap" and "pod_template_file.yaml" in (doc.get("data") or {}):
            pods.append(yaml.safe_load(doc["data"]["pod_template_file.yaml"]))
    return {pod["spec"].get("serviceAccountName") or "default" for pod in pods
            if (pod.get("metadata", {}).get("annotations") or {}).get("gke-gcsfuse/volumes") == "true"}


def test_the_cloud_side_is_made_as_planned_then_found_and_every_pod_account_is_bound(
        google_double: GoogleDouble, settings: Path, tmp_path: Path) -> None:
    planned = cloud_only(google_double, settings, tmp_path, "--dry-run")
    assert writes(google_double.requests()) == [], "a dry run reads only"
    plan = commands(planned)

    google_double.forget()
    ran = cloud_only(google_double, settings, tmp_path)
    assert commands(ran) == plan
    assert writes(google_double.requests()) == expected_writes(plan)

    for bucket in BUCKETS.values():
        made = google_double.resource("storage", f"b/{bucket}")
        assert made is not None and made["iamConfiguration"]["uniformBucketLevelAccess"]["enabled"] is True
    assert google_double.resource("iam", f"projects/{google_double.project}/serviceAccounts/{GSA}") is not None
    repository = f"projects/{google_double.project}/locations/{REGION}/repositories/airflow"
    assert google_double.resource("artifactregistry", repository)["format"] == "DOCKER"
    roles = {b["role"]: b["members"] for b in google_double.policy("storage", f"b/{BUCKETS['dags']}")["bindings"]}
    assert roles == {"roles/storage.objectViewer": [f"serviceAccount:{GSA}"]}

    # The contract, both sides: what the chart's pods and the task pods run as (render) is what is bound.
    out = tmp_path / "render"
    rendered = run_cli("render", "--target", TARGET, "--settings", str(settings), "--out", str(out))
    assert rendered.returncode == 0, rendered.stderr
    chart = [d for d in yaml.safe_load_all((out / "chart.yaml").read_text()) if d]
    objects = [d for d in yaml.safe_load_all((out / "objects.yaml").read_text()) if d]
    task_account = next(d["metadata"]["name"] for d in objects if d["kind"] == "ServiceAccount")
    wanted = google_pod_accounts(chart) | {task_account}
    # The jobs mount the DAG claim too; the workers come from the pod template.
    assert {"airflow-create-user-job", "airflow-migrate-database-job", "airflow-worker"} <= wanted
    policy = google_double.policy("iam", f"projects/{google_double.project}/serviceAccounts/{GSA}")
    bound = {m.split("[", 1)[1].rstrip("]").split("/", 1)[1] for b in policy["bindings"]
             if b["role"] == "roles/iam.workloadIdentityUser" for m in b["members"]}
    assert bound == wanted

    google_double.forget()
    again = cloud_only(google_double, settings, tmp_path)
    assert writes(google_double.requests()) == []
    assert again.count(": present") == len(plan)
