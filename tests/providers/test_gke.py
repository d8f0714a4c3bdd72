"""`providers.gke`: GCS Fuse claims over the buckets, Workload Identity for Airflow and the task pods, logs
in the logs bucket, outputs read from the data bucket."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from automation.core.errors import UserError
from automation.providers import Provider
from automation.providers.gke import CHART_SERVICE_ACCOUNTS, GCSFUSE_DRIVER, WI_ANNOTATION, GkeProvider
from automation.settings.model import Gke, Logs

GSA = "airflow@my-gcp-project.iam.gserviceaccount.com"


@pytest.fixture
def gke(build: Callable[..., Provider]) -> GkeProvider:
    provider = build("gke")
    assert isinstance(provider, GkeProvider)
    return provider


def test_context_is_the_one_get_credentials_writes(gke: GkeProvider) -> None:
    assert gke.context() == "gke_my-gcp-project_europe-west1_airflow"


def test_volumes_are_gcs_fuse_claims(gke: GkeProvider) -> None:
    rendered = {v.name: v.render() for v in gke.volumes()}
    assert set(rendered) == {"airflow-dags", "airflow-data"}  # logs go to a bucket, not a claim
    dags_pv, dags_pvc = rendered["airflow-dags"]
    assert dags_pv["spec"]["csi"] == {"driver": GCSFUSE_DRIVER, "volumeHandle": "my-gcp-project-airflow-dags",
                                      "readOnly": True}
    assert dags_pvc["spec"]["accessModes"] == ["ReadOnlyMany"]
    data_pv, _ = rendered["airflow-data"]
    assert data_pv["spec"]["csi"]["volumeHandle"] == "my-gcp-project-airflow-data"
    assert not data_pv["spec"]["csi"]["readOnly"]
    assert {"implicit-dirs", "uid=50000", "gid=0"} <= set(data_pv["spec"]["mountOptions"])


def test_chart_values(gke: GkeProvider) -> None:
    values = gke.chart_values()
    for component in CHART_SERVICE_ACCOUNTS:
        assert values[component]["serviceAccount"]["annotations"] == {WI_ANNOTATION: GSA}
    assert values["airflowPodAnnotations"] == {"gke-gcsfuse/volumes": "true"}
    assert values["config"]["logging"] == {"remote_logging": "True", "remote_log_conn_id": "google_cloud_default",
                                           "remote_base_log_folder": "gs://my-gcp-project-airflow-logs/logs"}
    assert values["volumeMounts"] == [{"name": "dags-ro", "mountPath": "/opt/airflow/dags", "readOnly": True}]
    assert values["env"] == [{"name": k, "value": v} for k, v in gke.task_env().items()]
    assert "password" not in values["createUserJob"]["defaultUser"]  # read from its Secret inside the job
    assert values["createUserJob"]["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "airflow-ui-login",
                                                                             "key": "password"}


def test_remote_logs_default_to_the_logs_bucket(gke: GkeProvider) -> None:
    plain = GkeProvider(gke.runner, replace(gke.target, logs=Logs()))
    assert plain.chart_values()["config"]["logging"]["remote_base_log_folder"] == "gs://my-gcp-project-airflow-logs/logs"


def test_task_env(gke: GkeProvider) -> None:
    env = gke.task_env()
    assert env["AUTOMATION_TARGET"] == "gke" and env["AUTOMATION_SERVICE_ACCOUNT"] == "airflow-tasks"
    assert env["AUTOMATION_POD_ANNOTATIONS"] == '{"gke-gcsfuse/volumes": "true"}'
    assert env["AUTOMATION_IMAGE_REGISTRY"] == "europe-west1-docker.pkg.dev/my-gcp-project/airflow"
    assert env["AUTOMATION_DAGS_CLAIM"] == "airflow-dags"


def test_task_service_account_has_workload_identity(gke: GkeProvider) -> None:
    (account,) = gke.extra_objects()
    assert account["kind"] == "ServiceAccount"
    assert (account["metadata"]["name"], account["metadata"]["namespace"]) == ("airflow-tasks", "airflow")
    assert account["metadata"]["annotations"] == {WI_ANNOTATION: GSA}


def test_outputs_are_read_from_the_data_bucket(gke: GkeProvider) -> None:
    assert gke.output_location("example1", "output/a.csv") == "gs://my-gcp-project-airflow-data/example1/output/a.csv"


def test_unset_buckets_are_refused(gke: GkeProvider) -> None:
    gke.check_resources()
    bare = GkeProvider(gke.runner, replace(gke.target, gke=Gke(project="p", region="r", cluster="c")))
    with pytest.raises(UserError) as info:
        bare.check_resources()
    assert info.value.problem == ("target gke: gke.dags_bucket, gke.data_bucket, gke.logs_bucket, "
                                  "gke.google_service_account not set")
    assert "annotations" not in bare.task_service_account()["metadata"]
