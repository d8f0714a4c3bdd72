"""`up --target gke --dry-run=server` through the real gcloud and the Google APIs double, on this machine's real API
server: the cloud side made first (`up --cloud-only`) and then found present, get-credentials answered with the
local cluster's endpoint and a client certificate, every object and the Helm release's manifests accepted by the
API server as dry runs, and nothing left in the cluster. A manifest the API server refuses stops it with the
server's reason. The GCS Fuse CSI driver and GKE's webhooks cannot run here: their part of admission is not
exercised (README)."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.cluster.support import cluster_target, wait_until
from tests.conftest import REPO, need, run_cli
from tests.google_double import GoogleDouble
from tests.google_double.fixture import google_double

__all__ = ["google_double"]
pytestmark = pytest.mark.cluster

CHART_DIR = Path(os.environ.get("AIRFLOW_CHART_DIR", "/work/shared/airflow-chart/chart"))
TARGET, NAMESPACE, REGION, CLUSTER = "double-gke-server", "gke-dry", "us-central1", "airflow"


def _pem(entry: dict[str, str], key: str, base: Path) -> bytes:
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    return (base / entry[key]).read_bytes()


@pytest.fixture
def gke_on_this_cluster(google_double: GoogleDouble, tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """A GKE cluster in the double whose endpoint, CA and client certificate are this machine's API server's, a
    gke target on it (its own namespace, made and removed here), and gcloud's environment."""
    need(shutil.which("gcloud") is not None and shutil.which("helm") is not None, "gcloud and helm")
    target, state = cluster_target()
    assert target.existing is not None and target.existing.kubeconfig is not None
    path = target.path(target.existing.kubeconfig)
    config = yaml.safe_load(path.read_text())
    context = next(c["context"] for c in config["contexts"]
                   if c["name"] == (target.existing.context or config["current-context"]))
    cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
    user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
    need("client-certificate" in user or "client-certificate-data" in user, "a client-certificate kube user")
    google_double.seed_gke_cluster(CLUSTER, REGION, endpoint=cluster["server"].removeprefix("https://"),
                                   ca_certificate=_pem(cluster, "certificate-authority", path.parent),
                                   client_certificate=_pem(user, "client-certificate", path.parent),
                                   client_key=_pem(user, "client-key", path.parent))
    overlay = tmp_path / "overlay.yaml"
    project = google_double.project
    overlay.write_text(yaml.safe_dump({"targets": {TARGET: {
        "extends": "gke", "namespace": NAMESPACE, "chart": {"source": "path", "path": str(CHART_DIR)},
        "gke": {"project": project, "region": REGION, "cluster": CLUSTER,
                "dags_bucket": f"{project}-dags", "data_bucket": f"{project}-data", "logs_bucket": f"{project}-logs",
                "google_service_account": f"airflow@{project}.iam.gserviceaccount.com"},
        "images": {"load": "registry", "registry": f"{REGION}-docker.pkg.dev/{project}/airflow"},
        "logs": {"remote_base": f"gs://{project}-logs/logs"}}}}))
    env = {**google_double.environment(tmp_path / "gcloud"), "KUBECONFIG": str(tmp_path / "kubeconfig"),
           "CLOUDSDK_CONTAINER_USE_CLIENT_CERTIFICATE": "True"}
    # A dry run creates nothing, so objects of a namespace that does not exist cannot be checked: it is made here.
    wait_until(lambda: state.get("Namespace", NAMESPACE) is None, 180, f"namespace {NAMESPACE} gone (an earlier run)")
    state.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}})
    try:
        yield overlay, env
    finally:
        state.delete("Namespace", NAMESPACE)
        wait_until(lambda: state.get("Namespace", NAMESPACE) is None, 180, f"namespace {NAMESPACE} deleted")
        shutil.rmtree(REPO / ".state" / TARGET, ignore_errors=True)


def admin(*cmd: str) -> subprocess.CompletedProcess[str]:
    """Read the cluster as the tests' own admin (the target's kubeconfig), not through what the product wrote."""
    target, _ = cluster_target()
    assert target.existing is not None and target.existing.kubeconfig is not None
    env = {**os.environ, "KUBECONFIG": str(target.path(target.existing.kubeconfig))}
    return subprocess.run(list(cmd), env=env, capture_output=True, text=True, timeout=120)


def in_namespace() -> list[str]:
    listed = admin("kubectl", "get", "secrets,configmaps,serviceaccounts,persistentvolumeclaims", "-n", NAMESPACE,
                   "-o", "name")
    assert listed.returncode == 0, listed.stderr
    return sorted(line for line in listed.stdout.split() if "kube-root-ca" not in line and "/default" not in line)


def test_server_dry_run_checks_everything_on_the_api_server_and_changes_nothing(
        gke_on_this_cluster: tuple[Path, dict[str, str]], google_double: GoogleDouble, tmp_path: Path) -> None:
    overlay, env = gke_on_this_cluster
    base = ("up", "--target", TARGET, "--settings", str(overlay), "--skip-dags-check")
    made = run_cli(*base, "--cloud-only", env=env, timeout=600)
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-2000:]
    before = in_namespace()

    result = run_cli(*base, "--dry-run=server", env=env, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    out = result.stdout
    assert "Google Cloud" in out and ": present" in out and "[dry-run] $ gcloud storage buckets create" not in out
    checked = out.count("accepted by the API server (dry run)")
    assert checked >= 8, out[-4000:]  # namespace objects, claims and volumes, secrets, projects, task account
    helm = next(line for line in out.splitlines() if "manifests accepted by the API server" in line)
    accepted, total = (int(n) for n in helm.split("Helm release")[1].split("manifests")[0].split(": ")[1]
                       .split(" of "))
    assert accepted == total > 10
    assert "not checked by the API server" not in out
    # Nothing was made: the namespace holds what it held, no release, no volume.
    assert in_namespace() == before
    assert admin("helm", "list", "-n", NAMESPACE, "-q").stdout.strip() == ""
    assert admin("kubectl", "get", "pv", f"{NAMESPACE}-airflow-dags", "--ignore-not-found", "-o", "name").stdout == ""

    # A manifest the server refuses (a quantity no resource can hold) stops it with the server's reason.
    bad = tmp_path / "bad-values.yaml"
    bad.write_text(yaml.safe_dump({"scheduler": {"resources": {"requests": {"cpu": "lots"}}}}))
    refused = run_cli(*base, "--dry-run=server", "--values", str(bad), env=env, timeout=900)
    assert refused.returncode == 2, refused.stdout[-3000:]
    assert "refused by the API server (dry run)" in refused.stderr and "airflow-scheduler" in refused.stderr

    # Day-2 commands on a machine without credentials yet reach the cluster the same way: gcloud's get-credentials
    # (answered by the double), then the real API server. Nothing is deployed in this namespace: each says so.
    google_double.forget()
    fresh = {**env, "KUBECONFIG": str(tmp_path / "day2-kubeconfig")}

    def day2(*args: str) -> subprocess.CompletedProcess[str]:
        return run_cli(args[0], "--target", TARGET, "--settings", str(overlay), *args[1:], env=fresh, timeout=600)

    shown = day2("status", "--json")
    assert shown.returncode == 0, shown.stderr
    rows = json.loads(shown.stdout)
    assert rows["cluster"].startswith(f"GKE {google_double.project}/{REGION}/{CLUSTER}: https://")
    assert rows["namespace"] == f"{NAMESPACE}: present" and rows["release"] == "not installed"
    assert [r.method for r in google_double.requests()] == ["container.projects.locations.clusters.get"]
    doctor = day2("doctor")
    assert doctor.returncode == 1, doctor.stdout[-3000:]  # blockers: nothing deployed
    context = next(line for line in doctor.stdout.splitlines() if " context " in line)
    assert context.startswith("ok ") and "answers, server v" in context, context
    assert "BLOCKER  airflow secrets  Secret/airflow-core-secrets absent" in doctor.stdout
    for command in (("logs", "scheduler"), ("restart",)):
        ran = day2(*command)
        assert ran.returncode == 2 and ran.stderr.startswith(
            f"error: no Airflow components of release airflow in namespace {NAMESPACE}"), ran.stderr
    purged = day2("down", "--purge", "--yes")
    assert purged.returncode == 0, purged.stdout[-2000:] + purged.stderr[-2000:]
    wait_until(lambda: admin("kubectl", "get", "namespace", NAMESPACE, "--ignore-not-found", "-o", "name").stdout
               == "", 180, f"namespace {NAMESPACE} deleted by down --purge")
    # Only Kubernetes was touched: Google was read (credentials), never written; the buckets stay.
    assert {r.method for r in google_double.requests()} == {"container.projects.locations.clusters.get"}
    assert all(google_double.resource("storage", f"b/{google_double.project}-{kind}") is not None
               for kind in ("dags", "data", "logs"))
