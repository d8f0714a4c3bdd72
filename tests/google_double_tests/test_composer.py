"""Cloud Composer through the real gcloud: what each command the product runs sends, and what it reads back."""

from __future__ import annotations

import json
from pathlib import Path

from tests.google_double import GoogleDouble
from tests.google_double.fixture import Gcloud

R = "us-central1"
ENV = "projects/double-project/locations/us-central1/environments/env"
WHERE = ("--environment", "env", "--location", R)


def test_describe_reads_the_seeded_environment(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    google_double.seed_composer_environment("env", R, image_version="composer-3-airflow-2.10.5-build.12",
                                            airflow_uri="https://env.example", bucket="env-bucket")
    described = json.loads(gcloud("composer", "environments", "describe", "env", "--location", R,
                                  "--format=json").stdout)
    assert described["state"] == "RUNNING"
    assert described["config"]["airflowUri"] == "https://env.example"
    assert described["config"]["dagGcsPrefix"] == "gs://env-bucket/dags"
    assert described["config"]["softwareConfig"]["imageVersion"] == "composer-3-airflow-2.10.5-build.12"
    [sent] = google_double.requests()
    assert (sent.method, sent.http_method, sent.path, sent.query) == (
        "composer.projects.locations.environments.get", "GET", f"/composer/v1/{ENV}", {"alt": ["json"]})


def _config_map(path: Path, name: str, data: dict[str, str], kind: str = "ConfigMap") -> Path:
    lines = ["apiVersion: v1", f"kind: {kind}", "metadata:", f"  name: {name}", "data:"]
    lines += [f"  {key}: {json.dumps(value)}" for key, value in data.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_user_workloads_config_maps_create_describe_update_delete(google_double: GoogleDouble, gcloud: Gcloud,
                                                                   tmp_path: Path) -> None:
    google_double.seed_composer_environment("env", R)
    group = ("composer", "environments", "user-workloads-config-maps")
    name = f"{ENV}/userWorkloadsConfigMaps/project-a"
    made = _config_map(tmp_path / "cm.yaml", "project-a", {"DATA_ROOT": "gs://data/project-a", "LEVEL": "2"})
    gcloud(*group, "create", *WHERE, f"--config-map-file-path={made}")
    described = json.loads(gcloud(*group, "describe", "project-a", *WHERE, "--format=json").stdout)
    assert described == {"name": name, "data": {"DATA_ROOT": "gs://data/project-a", "LEVEL": "2"}}
    gcloud(*group, "update", *WHERE, f"--config-map-file-path={_config_map(made, 'project-a', {'LEVEL': '3'})}")
    gcloud(*group, "delete", "project-a", *WHERE)
    gone = gcloud(*group, "describe", "project-a", *WHERE, check=False)
    assert gone.returncode != 0 and "NOT_FOUND" in gone.stderr  # what the product's clean-up looks for

    sent = [(r.method.rsplit(".", 1)[1], r.http_method, r.path, r.body, r.status) for r in google_double.requests()]
    collection = f"/composer/v1/{ENV}/userWorkloadsConfigMaps"
    assert sent == [
        ("create", "POST", collection, {"name": name, "data": {"DATA_ROOT": "gs://data/project-a", "LEVEL": "2"}},
         200),
        ("get", "GET", f"{collection}/project-a", None, 200),
        ("update", "PUT", f"{collection}/project-a", {"name": name, "data": {"LEVEL": "3"}}, 200),
        ("delete", "DELETE", f"{collection}/project-a", None, 200),
        ("get", "GET", f"{collection}/project-a", None, 404),
    ]


def test_user_workloads_secrets_create_describe_update_delete(google_double: GoogleDouble, gcloud: Gcloud,
                                                               tmp_path: Path) -> None:
    google_double.seed_composer_environment("env", R)
    group = ("composer", "environments", "user-workloads-secrets")
    name = f"{ENV}/userWorkloadsSecrets/project-a"
    secret = _config_map(tmp_path / "s.yaml", "project-a", {"password": "c2VjcmV0"}, kind="Secret")
    gcloud(*group, "create", *WHERE, f"--secret-file-path={secret}")
    described = json.loads(gcloud(*group, "describe", "project-a", *WHERE, "--format=json").stdout)
    assert described == {"name": name, "data": {"password": ""}}  # "Values ... in the response are cleared."
    updated = _config_map(secret, "project-a", {"token": "dA=="}, kind="Secret")
    gcloud(*group, "update", *WHERE, f"--secret-file-path={updated}")
    gcloud(*group, "delete", "project-a", *WHERE)

    sent = [(r.method.rsplit(".", 1)[1], r.http_method, r.body) for r in google_double.requests()]
    assert sent == [("create", "POST", {"name": name, "data": {"password": "c2VjcmV0"}}), ("get", "GET", None),
                    ("update", "PUT", {"name": name, "data": {"token": "dA=="}}), ("delete", "DELETE", None)]
    assert google_double.resource("composer", name) is None


def test_user_workloads_are_refused_on_composer_2(google_double: GoogleDouble, gcloud: Gcloud,
                                                   tmp_path: Path) -> None:
    google_double.seed_composer_environment("env", R, image_version="composer-2.9.7-airflow-2.9.3")
    refused = gcloud("composer", "environments", "user-workloads-config-maps", "create", *WHERE,
                     f"--config-map-file-path={_config_map(tmp_path / 'cm.yaml', 'a', {'K': 'v'})}", check=False)
    assert refused.returncode != 0
    assert "FAILED_PRECONDITION: This method is supported for Cloud Composer environments in versions " \
           "composer-3-airflow-*.*.*-build.* and newer." in refused.stderr


def test_dags_import_copies_a_folder_into_the_environment_bucket(google_double: GoogleDouble, gcloud: Gcloud,
                                                                  tmp_path: Path) -> None:
    google_double.seed_composer_environment("env", R, bucket="env-bucket")
    source = tmp_path / "example1"
    (source / "scripts").mkdir(parents=True)
    (source / "example1.py").write_text("from airflow import DAG\n")
    (source / "scripts" / "step.py").write_bytes(b"print('step')\n\x00\xff")
    gcloud("composer", "environments", "storage", "dags", "import", *WHERE, "--source", str(source))

    assert google_double.objects("env-bucket") == {"dags/example1/example1.py": b"from airflow import DAG\n",
                                                   "dags/example1/scripts/step.py": b"print('step')\n\x00\xff"}
    sent = google_double.requests()
    assert sent[0].method == "composer.projects.locations.environments.get"  # the bucket comes from dagGcsPrefix
    uploads = sorted((r.path, r.query["uploadType"][0], r.query["name"][0], r.media) for r in sent[1:])
    assert uploads == [
        ("/upload/storage/v1/b/env-bucket/o", "multipart", "dags/example1/example1.py", b"from airflow import DAG\n"),
        ("/upload/storage/v1/b/env-bucket/o", "multipart", "dags/example1/scripts/step.py",
         b"print('step')\n\x00\xff"),
    ]
    assert all(r.method == "storage.objects.insert" and r.status == 200 for r in sent[1:])


def test_update_env_variables_patches_the_whole_map(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    google_double.seed_composer_environment("env", R, env_variables={"KEPT": "1"})
    gcloud("composer", "environments", "update", "env", "--location", R,
           "--update-env-variables=AUTOMATION_TARGET=composer,AUTOMATION_X=a b")
    [patch] = google_double.requests("composer.projects.locations.environments.patch")
    assert patch.query["updateMask"] == ["config.software_config.env_variables"]
    wanted = {"KEPT": "1", "AUTOMATION_TARGET": "composer", "AUTOMATION_X": "a b"}
    assert patch.body == {"config": {"softwareConfig": {"envVariables": wanted}}}
    environment = google_double.resource("composer", ENV)
    assert environment is not None and environment["config"]["softwareConfig"]["envVariables"] == wanted
    # The operation came back done; gcloud still reads it once through operations.get.
    assert google_double.methods()[-1] == "composer.projects.locations.operations.get"


def test_run_is_refused_by_gcloud_itself_on_airflow_3(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    """gcloud 528 allows `environments run` subcommands up to Airflow 3.0.0 (exclusive): it reads the
    environment, then refuses without calling executeAirflowCommand."""
    google_double.seed_composer_environment("env", R, image_version="composer-3-airflow-3.1.7-build.2")
    refused = gcloud("composer", "environments", "run", "env", "--location", R, "connections", "--", "list",
                     check=False)
    assert refused.returncode != 0
    assert 'The subcommand "connections" is not supported for Composer environments with Airflow version ' \
           "3.1.7." in refused.stderr
    assert google_double.methods() == ["composer.projects.locations.environments.get"]


def test_run_on_airflow_2_executes_and_polls(google_double: GoogleDouble, gcloud: Gcloud) -> None:
    google_double.seed_composer_environment("env", R, image_version="composer-3-airflow-2.10.5-build.12")
    google_double.composer.airflow_cli = lambda command: (["conn_id | conn_type", "gcs | google_cloud_platform"], 0)
    ran = gcloud("composer", "environments", "run", "env", "--location", R, "connections", "--", "list")
    assert "gcs | google_cloud_platform" in ran.stdout
    assert google_double.methods() == ["composer.projects.locations.environments.get",
                                       "composer.projects.locations.environments.executeAirflowCommand",
                                       "composer.projects.locations.environments.pollAirflowCommand"]
    execute = google_double.requests("composer.projects.locations.environments.executeAirflowCommand")[0]
    assert execute.path == f"/composer/v1/{ENV}:executeAirflowCommand"
    assert execute.body == {"command": "connections", "subcommand": "", "parameters": ["list"]}
