"""The `gke` target's values rendered by the official chart: Airflow runs as the Google service account
(Workload Identity), pods carry the GCS Fuse annotation, and logs go to the logs bucket."""

from __future__ import annotations

import configparser
from typing import Any

import jmespath
import pytest
import yaml

from automation.providers.gke import GCSFUSE_ANNOTATION, WI_ANNOTATION
from tests.chart.helpers import render_chart

GSA = "airflow@my-gcp-project.iam.gserviceaccount.com"
POD_WORKLOADS = "[?kind=='Deployment' || kind=='Job']"


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return render_chart({}, target="gke")


def airflow_cfg(docs: list[dict[str, Any]]) -> configparser.ConfigParser:
    (text,) = jmespath.search("[?kind=='ConfigMap' && metadata.name=='airflow-config'].data.\"airflow.cfg\"", docs)
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read_string(text)
    return cfg


def test_airflow_service_accounts_have_workload_identity(docs: list[dict[str, Any]]) -> None:
    for name in ("scheduler", "worker", "api-server", "dag-processor", "triggerer"):
        found = jmespath.search(f"[?kind=='ServiceAccount' && metadata.name=='airflow-{name}'].metadata.annotations",
                                docs)
        assert found == [{WI_ANNOTATION: GSA}], name


def test_every_pod_mounting_a_bucket_runs_with_workload_identity(docs: list[dict[str, Any]]) -> None:
    accounts = {d["metadata"]["name"]: (d["metadata"].get("annotations") or {})
                for d in jmespath.search("[?kind=='ServiceAccount']", docs)}
    for doc in jmespath.search(POD_WORKLOADS, docs):
        spec = doc["spec"]["template"]["spec"]
        if jmespath.search("volumes[?persistentVolumeClaim.claimName=='airflow-dags']", spec):
            assert accounts[spec["serviceAccountName"]].get(WI_ANNOTATION) == GSA, doc["metadata"]["name"]


def test_pods_that_mount_the_buckets_carry_the_gcs_fuse_annotation(docs: list[dict[str, Any]]) -> None:
    mounting = jmespath.search(f"{POD_WORKLOADS} | [?spec.template.spec.volumes[?persistentVolumeClaim.claimName"
                               "=='airflow-dags']]", docs)
    names = {d["metadata"]["name"] for d in mounting}
    assert {"airflow-scheduler", "airflow-dag-processor", "airflow-api-server", "airflow-triggerer"} <= names
    for doc in mounting:
        assert doc["spec"]["template"]["metadata"]["annotations"].get(GCSFUSE_ANNOTATION) == "true", doc["metadata"]
    (template,) = jmespath.search("[?metadata.name=='airflow-config'].data.\"pod_template_file.yaml\"", docs)
    worker = yaml.safe_load(template)
    assert worker["metadata"]["annotations"][GCSFUSE_ANNOTATION] == "true"
    assert worker["spec"]["serviceAccountName"] == "airflow-worker"


def test_remote_logging_points_at_the_logs_bucket(docs: list[dict[str, Any]]) -> None:
    logging = airflow_cfg(docs)["logging"]
    assert logging["remote_logging"] == "True"
    assert logging["remote_base_log_folder"] == "gs://my-gcp-project-airflow-logs/logs"
    assert logging["remote_log_conn_id"] == "google_cloud_default"
    assert jmespath.search("[?kind=='PersistentVolumeClaim']", docs) == []


def test_the_ui_password_is_in_no_rendered_value(docs: list[dict[str, Any]]) -> None:
    (job,) = jmespath.search("[?kind=='Job' && metadata.name=='airflow-create-user']", docs)
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert jmespath.search("env[?name=='AUTOMATION_UI_PASSWORD'].valueFrom.secretKeyRef", container) == [
        {"name": "airflow-ui-login", "key": "password"}]
    script, separator, *users_create_args = container["args"][2:]
    assert script == 'exec airflow users create "$@" -p "$AUTOMATION_UI_PASSWORD"' and separator == "--"
    assert "-p" not in users_create_args and "--password" not in users_create_args
