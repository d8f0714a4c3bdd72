"""GKE, IAM, Artifact Registry and Cloud Logging through the real gcloud."""

from __future__ import annotations

import base64
import datetime
import json
import shutil
import subprocess

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import need
from tests.google_double import GoogleDouble
from tests.google_double.fixture import Gcloud

R = "us-central1"
PROJECT = "double-project"
SA = f"airflow-tasks@{PROJECT}.iam.gserviceaccount.com"


def _ca_pem() -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "double-ca")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now)
                   .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM)


def test_clusters_describe_and_get_credentials_write_the_kubeconfig(google_double: GoogleDouble,
                                                                    gcloud: Gcloud) -> None:
    pem = _ca_pem()
    google_double.seed_gke_cluster("airflow", R, endpoint="127.0.0.1:6443", ca_certificate=pem)
    described = json.loads(gcloud("container", "clusters", "describe", "airflow", "--location", R,
                                  "--format=json").stdout)
    assert described["status"] == "RUNNING" and described["endpoint"] == "127.0.0.1:6443"
    gcloud("container", "clusters", "get-credentials", "airflow", "--location", R)

    config = yaml.safe_load(gcloud.kubeconfig.read_text())
    context = f"gke_{PROJECT}_{R}_airflow"
    assert config["current-context"] == context
    [cluster] = config["clusters"]
    assert cluster["cluster"]["server"] == "https://127.0.0.1:6443"
    assert base64.b64decode(cluster["cluster"]["certificate-authority-data"]) == pem
    [user] = config["users"]
    assert user["user"]["exec"]["command"] == "gke-gcloud-auth-plugin"
    path = f"/container/v1/projects/{PROJECT}/locations/{R}/clusters/airflow"
    assert [(r.method, r.http_method, r.path) for r in google_double.requests()] == [
        ("container.projects.locations.clusters.get", "GET", path)] * 2


def test_the_auth_plugin_hands_kubectl_the_access_token(gcloud: Gcloud) -> None:
    """What kubectl will present to a real local API server behind a seeded cluster's endpoint."""
    need(shutil.which("gke-gcloud-auth-plugin") is not None, "gke-gcloud-auth-plugin")
    made = subprocess.run(["gke-gcloud-auth-plugin"], env=gcloud.env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["status"]["token"] == gcloud.env["CLOUDSDK_AUTH_ACCESS_TOKEN"]


def test_service_account_create_describe_and_workload_identity_binding(google_double: GoogleDouble,
                                                                      gcloud: Gcloud) -> None:
    member = f"serviceAccount:{PROJECT}.svc.id.goog[composer-user-workloads/default]"
    gcloud("iam", "service-accounts", "create", "airflow-tasks", "--display-name", "Airflow tasks")
    described = json.loads(gcloud("iam", "service-accounts", "describe", SA, "--format=json").stdout)
    assert described["email"] == SA and described["displayName"] == "Airflow tasks"
    gcloud("iam", "service-accounts", "add-iam-policy-binding", SA, "--role", "roles/iam.workloadIdentityUser",
           "--member", member)
    policy = json.loads(gcloud("iam", "service-accounts", "get-iam-policy", SA, "--format=json").stdout)
    assert policy["bindings"] == [{"role": "roles/iam.workloadIdentityUser", "members": [member]}]

    name = f"/iam/v1/projects/{PROJECT}/serviceAccounts"
    sent = [(r.method, r.path, r.body) for r in google_double.requests()]
    assert sent[0] == ("iam.projects.serviceAccounts.create", name,
                       {"accountId": "airflow-tasks", "serviceAccount": {"displayName": "Airflow tasks"}})
    # describe names the account by its email alone: `projects/-/` stands for any project.
    assert sent[1][:2] == ("iam.projects.serviceAccounts.get", f"/iam/v1/projects/-/serviceAccounts/{SA}")
    # add-iam-policy-binding is a read-modify-write that carries the etag it read.
    assert sent[2][:2] == ("iam.projects.serviceAccounts.getIamPolicy", f"{name}/{SA}:getIamPolicy")
    assert sent[3] == ("iam.projects.serviceAccounts.setIamPolicy", f"{name}/{SA}:setIamPolicy", {"policy": {
        "bindings": [{"members": [member], "role": "roles/iam.workloadIdentityUser"}], "etag": "ACAB",
        "version": 3}})
    assert sent[4][:2] == ("iam.projects.serviceAccounts.getIamPolicy",
                           f"/iam/v1/projects/-/serviceAccounts/{SA}:getIamPolicy")
    assert len(sent) == 5


def test_a_policy_written_with_a_stale_etag_is_refused(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    gcloud("iam", "service-accounts", "create", "airflow-tasks")
    url = f"{google_double.url}/iam/v1/projects/{PROJECT}/serviceAccounts/{SA}:setIamPolicy"
    auth = {"Authorization": "Bearer t"}
    first = httpx.post(url, headers=auth, json={"policy": {"etag": "ACAB", "bindings": [
        {"role": "roles/iam.serviceAccountUser", "members": ["user:a@example.com"]}]}})
    assert first.status_code == 200 and first.json()["etag"] != "ACAB"
    stale = httpx.post(url, headers=auth, json={"policy": {"etag": "ACAB", "bindings": []}})
    assert stale.status_code == 409
    assert stale.json()["error"]["status"] == "ABORTED"


def test_artifact_repository_create_and_describe(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    gcloud("artifacts", "repositories", "create", "workers", "--repository-format=docker", "--location", R,
           "--description", "worker images")
    described = json.loads(gcloud("artifacts", "repositories", "describe", "workers", "--location", R,
                                  "--format=json").stdout)
    name = f"projects/{PROJECT}/locations/{R}/repositories/workers"
    assert described["name"] == name and described["format"] == "DOCKER"

    create, get, again = google_double.requests()
    assert (create.method, create.path, create.query["repositoryId"]) == (
        "artifactregistry.projects.locations.repositories.create",
        f"/artifactregistry/v1/projects/{PROJECT}/locations/{R}/repositories", ["workers"])
    assert create.body is not None and create.body["format"] == "DOCKER"
    assert (get.method, again.method) == ("artifactregistry.projects.locations.repositories.get",) * 2
    # The create answered an Operation already done; operations.get serves it too.
    answered = httpx.post(f"{google_double.url}{create.path}", params={"repositoryId": "other"},
                          headers={"Authorization": "Bearer t"}, json={"format": "DOCKER"}).json()
    assert answered["done"] is True and answered["response"]["name"].endswith("/repositories/other")
    operation = httpx.get(f"{google_double.url}/artifactregistry/v1/{answered['name']}",
                          headers={"Authorization": "Bearer t"}).json()
    assert operation == answered


def test_logging_read_sends_the_filter_and_limit(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    google_double.seed_log_entries([
        {"logName": f"projects/{PROJECT}/logs/airflow-scheduler", "textPayload": "scheduler started",
         "timestamp": "2026-01-01T00:00:00Z", "resource": {"type": "cloud_composer_environment",
                                                            "labels": {"environment_name": "env"}}},
    ])
    read = gcloud("logging", "read", 'resource.type="cloud_composer_environment"', "--limit", "5",
                  "--format=json")
    assert [e["textPayload"] for e in json.loads(read.stdout)] == ["scheduler started"]
    [sent] = google_double.requests()
    assert (sent.method, sent.http_method, sent.path) == ("logging.entries.list", "POST", "/logging/v2/entries:list")
    assert sent.body["resourceNames"] == [f"projects/{PROJECT}"] and sent.body["pageSize"] == 5
    assert sent.body["orderBy"] == "timestamp desc"
    assert sent.body["filter"].endswith('resource.type="cloud_composer_environment"')


def test_project_and_repository_iam_bindings(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    member = f"serviceAccount:{SA}"
    gcloud("projects", "add-iam-policy-binding", PROJECT, "--member", member, "--role", "roles/composer.worker",
           "--condition=None")
    gcloud("artifacts", "repositories", "create", "workers", "--repository-format=docker", "--location", R)
    gcloud("artifacts", "repositories", "add-iam-policy-binding", "workers", "--location", R, "--member", member,
           "--role", "roles/artifactregistry.reader")
    sent = [(r.method, r.path) for r in google_double.requests() if "IamPolicy" in r.method]
    repository = f"projects/{PROJECT}/locations/{R}/repositories/workers"
    assert sent == [
        ("cloudresourcemanager.projects.getIamPolicy", f"/cloudresourcemanager/v1/projects/{PROJECT}:getIamPolicy"),
        ("cloudresourcemanager.projects.setIamPolicy", f"/cloudresourcemanager/v1/projects/{PROJECT}:setIamPolicy"),
        ("artifactregistry.projects.locations.repositories.getIamPolicy",
         f"/artifactregistry/v1/{repository}:getIamPolicy"),
        ("artifactregistry.projects.locations.repositories.setIamPolicy",
         f"/artifactregistry/v1/{repository}:setIamPolicy"),
    ]
    project_policy = google_double.policy("cloudresourcemanager", f"projects/{PROJECT}")
    assert project_policy is not None
    assert project_policy["bindings"] == [{"members": [member], "role": "roles/composer.worker"}]
    repository_policy = google_double.policy("artifactregistry", repository)
    assert repository_policy is not None and repository_policy["bindings"][0]["role"] == "roles/artifactregistry.reader"


def test_services_enable_and_list(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    gcloud("services", "enable", "composer.googleapis.com")
    gcloud("services", "enable", "container.googleapis.com", "iam.googleapis.com")
    listed = gcloud("services", "list", "--enabled", "--format=value(config.name)").stdout.split()
    assert listed == ["composer.googleapis.com", "container.googleapis.com", "iam.googleapis.com"]
    enable, batch, list_ = google_double.requests()
    assert (enable.method, enable.path) == (
        "serviceusage.services.enable", f"/serviceusage/v1/projects/{PROJECT}/services/composer.googleapis.com:enable")
    assert (batch.method, batch.body) == ("serviceusage.services.batchEnable",
                                          {"serviceIds": ["container.googleapis.com", "iam.googleapis.com"]})
    assert list_.query["filter"] == ["state:ENABLED"]
