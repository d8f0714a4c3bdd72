"""Cloud Storage through the real gcloud (`gcloud storage`, the JSON API with media upload and download)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.google_double import GoogleDouble
from tests.google_double.fixture import Gcloud

MEMBER = "serviceAccount:airflow-tasks@double-project.iam.gserviceaccount.com"


def test_bucket_create_describe_and_iam_binding(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    gcloud("storage", "buckets", "create", "gs://dags-bucket", "--location", "us-central1",
           "--uniform-bucket-level-access")
    described = json.loads(gcloud("storage", "buckets", "describe", "gs://dags-bucket", "--format=json").stdout)
    assert described["location"] == "US-CENTRAL1" and described["uniform_bucket_level_access"] is True
    gcloud("storage", "buckets", "add-iam-policy-binding", "gs://dags-bucket", "--member", MEMBER,
           "--role", "roles/storage.objectAdmin")

    insert, get, read, write = google_double.requests()
    assert (insert.method, insert.http_method, insert.path, insert.query["project"]) == (
        "storage.buckets.insert", "POST", "/storage/v1/b", ["double-project"])
    assert insert.body == {"name": "dags-bucket", "location": "us-central1",
                           "iamConfiguration": {"uniformBucketLevelAccess": {"enabled": True}}}
    assert (get.method, get.path) == ("storage.buckets.get", "/storage/v1/b/dags-bucket")
    assert (read.method, read.http_method, read.path, read.query["optionsRequestedPolicyVersion"]) == (
        "storage.buckets.getIamPolicy", "GET", "/storage/v1/b/dags-bucket/iam", ["3"])
    assert (write.method, write.http_method) == ("storage.buckets.setIamPolicy", "PUT")
    assert write.body is not None and write.body["etag"] == "CAE="  # the etag the read answered
    assert write.body["bindings"] == [{"members": [MEMBER], "role": "roles/storage.objectAdmin"}]
    policy = google_double.policy("storage", "b/dags-bucket")
    assert policy is not None and policy["bindings"] == write.body["bindings"]


def _tree(root: Path) -> dict[str, bytes]:
    files = {"example1/example1.py": b"dag = 1\n", "example1/scripts/step.py": b"print('step')\n",
             "common/__init__.py": b""}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def test_rsync_uploads_what_changed_and_nothing_else(google_double: GoogleDouble, gcloud: Gcloud,
                                                      tmp_path: Path) -> None:
    """What the GKE provider runs for DAGs and data (`gcloud storage rsync DIR gs://B --recursive`)."""
    google_double.seed_bucket("dags-bucket", "us-central1")
    files = _tree(tmp_path / "dags")
    gcloud("storage", "rsync", str(tmp_path / "dags"), "gs://dags-bucket", "--recursive")
    assert google_double.objects("dags-bucket") == files
    uploads = google_double.requests("storage.objects.insert")
    assert sorted(r.body["name"] for r in uploads if r.body) == sorted(files)
    assert {(r.path, r.query["uploadType"][0]) for r in uploads} == {
        ("/upload/storage/v1/b/dags-bucket/o", "multipart")}
    # rsync records each file's mtime, which the next run compares.
    assert all("goog-reserved-file-mtime" in r.body["metadata"] for r in uploads if r.body)

    google_double.forget()
    gcloud("storage", "rsync", str(tmp_path / "dags"), "gs://dags-bucket", "--recursive")
    assert google_double.requests("storage.objects.insert") == []

    changed = tmp_path / "dags" / "example1" / "example1.py"
    changed.write_bytes(b"dag = 2\n")
    os.utime(changed, (changed.stat().st_atime, changed.stat().st_mtime + 10))
    gcloud("storage", "rsync", str(tmp_path / "dags"), "gs://dags-bucket", "--recursive")
    assert [r.body["name"] for r in google_double.requests("storage.objects.insert") if r.body] == [
        "example1/example1.py"]
    assert google_double.object_bytes("dags-bucket", "example1/example1.py") == b"dag = 2\n"


def test_resumable_upload_download_and_listing(google_double: GoogleDouble, gcloud: Gcloud,
                                               tmp_path: Path) -> None:
    google_double.seed_bucket("data-bucket")
    data = bytes(range(256)) * 40
    (tmp_path / "blob.bin").write_bytes(data)
    # Above the threshold gcloud opens a resumable session: one POST, then the bytes PUT to the session URL.
    gcloud.env["CLOUDSDK_STORAGE_RESUMABLE_THRESHOLD"] = "1"
    gcloud("storage", "cp", str(tmp_path / "blob.bin"), "gs://data-bucket/in/blob.bin")
    opened, sent = google_double.requests("storage.objects.insert")
    assert (opened.http_method, opened.path, opened.query["uploadType"]) == (
        "POST", "/resumable/upload/storage/v1/b/data-bucket/o", ["resumable"])
    assert opened.body == {"bucket": "data-bucket", "name": "in/blob.bin", "contentType": "application/octet-stream"}
    assert (sent.http_method, sent.media) == ("PUT", data) and "upload_id" in sent.query
    assert google_double.object_bytes("data-bucket", "in/blob.bin") == data

    google_double.seed_object("data-bucket", "out/result.csv", b"a,b\n1,2\n", "text/csv")
    gcloud("storage", "cp", "gs://data-bucket/out/result.csv", str(tmp_path / "result.csv"))
    assert (tmp_path / "result.csv").read_bytes() == b"a,b\n1,2\n"
    downloads = [r for r in google_double.requests("storage.objects.get") if r.path.startswith("/download/")]
    assert [r.path for r in downloads] == ["/download/storage/v1/b/data-bucket/o/out%2Fresult.csv"]
    assert gcloud("storage", "cat", "gs://data-bucket/out/result.csv").stdout == "a,b\n1,2\n"
    listed = gcloud("storage", "ls", "-r", "gs://data-bucket").stdout.split()
    assert "gs://data-bucket/in/blob.bin" in listed and "gs://data-bucket/out/result.csv" in listed


def test_a_missing_bucket_is_not_found(gcloud: Gcloud) -> None:
    missing = gcloud("storage", "buckets", "describe", "gs://nowhere", check=False)
    assert missing.returncode != 0 and "not found: 404" in missing.stderr


def test_a_bucket_is_deleted_only_when_empty(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    google_double.seed_bucket("scratch")
    google_double.seed_object("scratch", "left.txt", b"x")
    refused = gcloud("storage", "buckets", "delete", "gs://scratch", check=False)
    # gcloud recognises Cloud Storage's 409 and says it its own way.
    assert refused.returncode != 0 and "Bucket is not empty." in refused.stderr
    gcloud("storage", "rm", "-r", "gs://scratch")
    assert google_double.resource("storage", "b/scratch") is None
    assert [(r.method, r.status) for r in google_double.requests() if r.http_method == "DELETE"] == [
        ("storage.buckets.delete", 409), ("storage.objects.delete", 200), ("storage.buckets.delete", 200)]
