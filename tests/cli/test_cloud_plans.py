"""GKE and Cloud Composer 3 without a cloud: the dry-run plans (exact commands, in order, no secret in any
output) and `render`: every object valid for Kubernetes 1.36, values valid for the chart, no hostPath."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, need, run_cli

CHART_DIR = Path(os.environ.get("AIRFLOW_CHART_DIR", "/work/shared/airflow-chart/chart"))
KUBERNETES_VERSION = "1.36.0"
SECRET_VALUE = "known-s3cret-value-7f3a9"
CONFIG_VALUE = "plain-config-value"
SKIPPED = "'--exclude=(^|.*/)(\\.ipynb_checkpoints|__pycache__)/.*'"
GCLOUD_WHERE = "--environment airflow --location europe-west1 --project my-gcp-project"


@pytest.fixture
def overlay(tmp_path: Path) -> Path:
    """One project with a known secret, so the plan is fixed and the secret can be looked for in the output."""
    project = tmp_path / "projects" / "demo"
    project.mkdir(parents=True)
    (project / "config.env").write_text(f"DEMO_SETTING={CONFIG_VALUE}\n")
    (project / "secret.env").write_text(f"DEMO_PASSWORD={SECRET_VALUE}\n")
    (project / "secret.env.example").write_text("DEMO_PASSWORD=\n")
    path = tmp_path / "overlay.yaml"
    common = {"projects": ["demo"], "projects_dir": str(tmp_path / "projects")}
    path.write_text(yaml.safe_dump({"targets": {"gke": dict(common), "composer": dict(common)}}))
    return path


def planned(stdout: str) -> list[str]:
    return [line.strip().removeprefix("[dry-run] ") for line in stdout.splitlines() if "[dry-run]" in line]


def test_gke_dry_run_plan(overlay: Path) -> None:
    result = run_cli("up", "--target", "gke", "--dry-run", "--skip-dags-check", "--settings", str(overlay))
    assert result.returncode == 0, result.stderr
    context = "gke_my-gcp-project_europe-west1_airflow"
    gsa = "airflow@my-gcp-project.iam.gserviceaccount.com"
    where = "--project my-gcp-project"
    expected = [
        # The cloud side, nothing readable here (no credentials): every piece planned.
        *(f"$ gcloud storage buckets create gs://my-gcp-project-airflow-{b} --location europe-west1 "
          f"--uniform-bucket-level-access {where}" for b in ("dags", "data", "logs")),
        f"$ gcloud iam service-accounts create airflow --display-name 'Airflow and its task pods' {where}",
        *(f"$ gcloud storage buckets add-iam-policy-binding gs://my-gcp-project-airflow-{b} "
          f"--member=serviceAccount:{gsa} --role=roles/storage.{role} {where}"
          for b, role in (("dags", "objectViewer"), ("data", "objectUser"), ("logs", "objectUser"))),
        # Offline, the chart (from its repository) cannot be rendered: the task account only, with a warning.
        f"$ gcloud iam service-accounts add-iam-policy-binding {gsa} "
        f"'--member=serviceAccount:my-gcp-project.svc.id.goog[airflow/airflow-tasks]' "
        f"--role=roles/iam.workloadIdentityUser {where}",
        f"$ gcloud artifacts repositories create airflow --repository-format=docker --location europe-west1 {where}",
        "$ gcloud container clusters get-credentials airflow --region europe-west1 --project my-gcp-project",
        f"$ gcloud storage rsync {REPO}/dags gs://my-gcp-project-airflow-dags --recursive "
        f"--delete-unmatched-destination-objects {SKIPPED} --project my-gcp-project",
    ]
    if (REPO / "data").is_dir():
        expected.append(f"$ gcloud storage rsync {REPO}/data gs://my-gcp-project-airflow-data --recursive "
                        f"{SKIPPED} '--exclude=(^|.*/)(output|work)/.*' --project my-gcp-project")
    expected += [
        "apply Namespace/airflow (create, server-side)",
        "apply PersistentVolume/airflow-airflow-dags (create, server-side)",
        "apply PersistentVolumeClaim/airflow-dags -n airflow (create, server-side)",
        "apply PersistentVolume/airflow-airflow-data (create, server-side)",
        "apply PersistentVolumeClaim/airflow-data -n airflow (create, server-side)",
        "apply Secret/airflow-core-secrets -n airflow (create, server-side)",
        "apply ConfigMap/demo -n airflow (create, server-side)",
        "apply Secret/demo -n airflow (create, server-side)",
        "apply ServiceAccount/airflow-tasks -n airflow (create, server-side)",
        "apply Secret/airflow-ui-login -n airflow (create, server-side)",
        f"$ helm --kube-context {context} -n airflow upgrade --install airflow airflow --repo "
        f"https://airflow.apache.org --version 1.21.0 -f {REPO}/.state/gke/values.merged.yaml --timeout 1200s",
        "port-forward svc/airflow-api-server to localhost:8090 (supervised, background)",
    ]
    assert planned(result.stdout) == expected
    assert "warning: the chart could not be rendered" in result.stdout
    assert SECRET_VALUE not in result.stdout + result.stderr
    assert "kubectl get secret airflow-ui-login -n airflow" in result.stdout
    # The UI password lives in its Secret only: never in the Helm values a release stores.
    merged = yaml.safe_load((REPO / ".state" / "gke" / "values.merged.yaml").read_text())
    user_job = merged["createUserJob"]
    assert "password" not in user_job["defaultUser"]
    assert user_job["env"][0]["valueFrom"]["secretKeyRef"] == {"name": "airflow-ui-login", "key": "password"}
    env = {item["name"]: item["value"] for item in merged["env"]}
    assert env["AUTOMATION_DAGS_CLAIM"] == "airflow-dags" and env["AUTOMATION_DATA_CLAIM"] == "airflow-data"
    assert json.loads(env["AUTOMATION_POD_ANNOTATIONS"]) == {"gke-gcsfuse/volumes": "true"}
    assert env["AUTOMATION_SERVICE_ACCOUNT"] == "airflow-tasks"
    logging = merged["config"]["logging"]
    assert logging["remote_base_log_folder"] == "gs://my-gcp-project-airflow-logs/logs"
    assert logging["remote_logging"] == "True" and logging["remote_log_conn_id"] == "google_cloud_default"
    gsa = "airflow@my-gcp-project.iam.gserviceaccount.com"
    for component in ("workers", "scheduler"):
        assert merged[component]["serviceAccount"]["annotations"]["iam.gke.io/gcp-service-account"] == gsa


def test_composer_dry_run_plan(overlay: Path) -> None:
    result = run_cli("up", "--target", "composer", "--dry-run", "--skip-dags-check", "--settings", str(overlay))
    assert result.returncode == 0, result.stderr
    files = f"{REPO}/.state/composer/workloads"
    # Every fact is set, "none" standing for no value: an unset one would fall back to the local default.
    env = ("AUTOMATION_CODE_ROOT=gs://europe-west1-airflow-00000000-bucket/dags,AUTOMATION_DAGS_CLAIM=none,"
           "AUTOMATION_DATA_CLAIM=none,AUTOMATION_DATA_ROOT=gs://my-gcp-project-airflow-data,"
           "AUTOMATION_IMAGE_REGISTRY=europe-west1-docker.pkg.dev/my-gcp-project/airflow,AUTOMATION_KEEP_FAILED_PODS=3,"
           "AUTOMATION_KUBE_CONFIG_FILE=/home/airflow/composer_kube_config,AUTOMATION_NAMESPACE=composer-user-workloads,AUTOMATION_POD_ANNOTATIONS=none,"
           "AUTOMATION_POD_START_CHECK_SECONDS=1.0,"
           "AUTOMATION_SERVICE_ACCOUNT=default,AUTOMATION_STORAGE_EMULATOR_HOST=none,AUTOMATION_TARGET=composer")
    expected = [
        f"$ gcloud composer environments user-workloads-config-maps create {GCLOUD_WHERE} "
        f"--config-map-file-path={files}/configmap-demo.yaml",
        f"$ gcloud composer environments user-workloads-secrets create {GCLOUD_WHERE} "
        f"--secret-file-path={files}/secret-demo.yaml",
        "$ gcloud composer environments update airflow --location europe-west1 --project my-gcp-project "
        f"--update-env-variables={env}",
        # dags/ mirrored (.airflowignore included: without it the dag-processor parses task scripts as DAG files),
        # Composer's own monitoring DAG kept; this overlay's project has no data/demo/input to upload.
        f"$ gcloud storage rsync {REPO}/dags gs://europe-west1-airflow-00000000-bucket/dags --recursive "
        f"--delete-unmatched-destination-objects {SKIPPED} '--exclude=^airflow_monitoring\\.py$' "
        "--project my-gcp-project",
    ]
    assert planned(result.stdout) == expected
    assert SECRET_VALUE not in result.stdout + result.stderr
    assert "helm" not in result.stdout and "kubectl" not in result.stdout


def test_composer_documents_are_what_gcloud_takes() -> None:
    from automation.k8s.objects import ConfigMap, Secret
    from automation.providers.composer import composer_document

    secret = composer_document(Secret("demo", "composer-user-workloads", {"K": "v"}))
    assert secret == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "demo"}, "type": "Opaque",
                      "data": {"K": "dg=="}}
    config = composer_document(ConfigMap("demo", "composer-user-workloads", {"K": "v"}))
    assert config["data"] == {"K": "v"} and config["kind"] == "ConfigMap"


def test_gke_render_is_valid_and_has_no_host_path(tmp_path: Path, overlay: Path) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    import jsonschema

    need(shutil.which("helm") is not None, "helm on PATH renders the chart")
    need((CHART_DIR / "values.schema.json").is_file(), f"the Airflow chart at {CHART_DIR} (set AIRFLOW_CHART_DIR)")
    chart = tmp_path / "chart.yaml"
    chart.write_text(yaml.safe_dump({"targets": {"gke": {"chart": {"source": "path", "path": str(CHART_DIR)}}}}))
    out = tmp_path / "out"
    result = run_cli("render", "--target", "gke", "--settings", str(overlay), "--settings", str(chart),
                     "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert SECRET_VALUE not in result.stdout + result.stderr
    docs = []
    for name in ("objects.yaml", "chart.yaml"):
        text = (out / name).read_text()
        assert "hostPath" not in text, f"{name} uses hostPath"
        assert SECRET_VALUE not in text
        docs += [d for d in yaml.safe_load_all(text) if d]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert {("ServiceAccount", "airflow-tasks"), ("PersistentVolumeClaim", "airflow-dags"),
            ("PersistentVolumeClaim", "airflow-data")} <= kinds
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    volumes = [d for d in docs if d["kind"] == "PersistentVolume"]
    assert {v["spec"]["csi"]["driver"] for v in volumes} == {"gcsfuse.csi.storage.gke.io"}
    dags_pv = next(v for v in volumes if v["spec"]["claimRef"]["name"] == "airflow-dags")
    assert dags_pv["spec"]["accessModes"] == ["ReadOnlyMany"] and dags_pv["spec"]["csi"]["readOnly"] is True
    values_text = (out / "values.yaml").read_text()
    assert "hostPath" not in values_text
    schema = json.loads((CHART_DIR / "values.schema.json").read_text())
    errors = [f"{'.'.join(map(str, e.path))}: {e.message}"
              for e in jsonschema.Draft7Validator(schema).iter_errors(yaml.safe_load(values_text))]
    assert errors == []
    # Every Airflow pod that mounts the DAG claim carries the annotation GCS Fuse needs to mount it.
    mounting = [d for d in docs if d["kind"] in ("Deployment", "StatefulSet")
                and any((v.get("persistentVolumeClaim") or {}).get("claimName") == "airflow-dags"
                        for v in d["spec"]["template"]["spec"].get("volumes") or [])]
    assert {d["metadata"]["name"] for d in mounting} >= {"airflow-scheduler", "airflow-api-server"}
    for workload in mounting:
        annotations = workload["spec"]["template"]["metadata"].get("annotations") or {}
        assert annotations.get("gke-gcsfuse/volumes") == "true", workload["metadata"]["name"]


def test_composer_rehearsal_dry_run_plan(tmp_path: Path, overlay: Path) -> None:
    """Composer's side on a reachable cluster: its namespace first, the projects there, the task role, the
    emulator, then the buckets of the Composer target's names, seeded; Airflow at the Composer image's version."""
    rehearsal = {"projects": ["demo"], "projects_dir": str(tmp_path / "projects")}
    settings = yaml.safe_load(overlay.read_text())
    settings["targets"]["composer-rehearsal"] = rehearsal
    overlay.write_text(yaml.safe_dump(settings))
    result = run_cli("up", "--target", "composer-rehearsal", "--dry-run", "--skip-dags-check", "--settings",
                     str(overlay), env={"KUBECONFIG": "/nonexistent"})
    assert result.returncode == 0, result.stderr
    plan = planned(result.stdout)
    order = [
        "apply Namespace/composer-user-workloads (create, server-side)",
        "apply Secret/airflow-celery-broker -n airflow (create, server-side)",
        "apply ConfigMap/demo -n composer-user-workloads (create, server-side)",
        "apply Secret/demo -n composer-user-workloads (create, server-side)",
        "apply ServiceAccount/composer-task-launcher -n airflow (create, server-side)",
        "apply Secret/composer-task-launcher-token -n airflow (create, server-side)",
        "apply ConfigMap/composer-task-launcher -n airflow (create, server-side)",
        "apply Role/composer-task-launcher -n composer-user-workloads (create, server-side)",
        "apply RoleBinding/composer-task-launcher -n composer-user-workloads (create, server-side)",
        "apply ConfigMap/composer-auth -n airflow (create, server-side)",
        "apply Deployment/gcs-emulator -n airflow (create, server-side)",
        "create bucket gs://europe-west1-airflow-00000000-bucket",
        "create bucket gs://my-gcp-project-airflow-data",
    ]
    positions = [plan.index(step) for step in order]
    assert positions == sorted(positions), plan
    assert any(p.startswith("upload ") and "to gs://europe-west1-airflow-00000000-bucket/dags/" in p for p in plan)
    assert not any("PersistentVolumeClaim/airflow-data" in p for p in plan)  # Airflow's claims only
    assert "Helm release airflow (chart 1.21.0, Airflow 3.3.1)" in result.stdout
    assert SECRET_VALUE not in result.stdout + result.stderr


@pytest.mark.parametrize(("args", "line"), [
    (["up", "--target", "existing", "--cloud-only", "--dry-run"],
     "error: target existing (existing) has no cloud side for --cloud-only -- leave --cloud-only out"),
    (["up", "--target", "gke", "--dry-run=maybe"],
     "error: --dry-run=maybe: expected --dry-run, --dry-run=client or --dry-run=server"),
])
def test_bad_cloud_options_are_one_line(args: list[str], line: str, tmp_path: Path) -> None:
    result = run_cli(*args, env={"KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == 2, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith(line), result.stderr
