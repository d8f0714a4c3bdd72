"""Dry-run plans: the exact commands `up` would run, in order, with the pinned versions, and no secret."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

from automation.core.versions import VERSIONS
from tests.conftest import REPO, run_cli


def commands(stdout: str) -> list[str]:
    return [m.group(1) for m in re.finditer(r"\[dry-run\] (?:\$ )?(.+)", stdout)]


def test_local_up_dry_run_lists_the_exact_commands_in_order(tmp_path: Path) -> None:
    # A kubeconfig without the minikube context: the plan is the one from nothing.
    result = run_cli("up", "--dry-run", env={"KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == 0, result.stderr
    plan = commands(result.stdout)
    values = REPO / ".state/local/values.merged.yaml"
    expected = [
        f"minikube start -p airflow --driver=docker --cpus=4 --memory=6144 --disk-size=40g "
        f"--kubernetes-version={VERSIONS.kubernetes}",
        f"minikube mount -p airflow {REPO}/dags:/mnt/airflow/dags --uid=50000 --gid=0",
        f"minikube mount -p airflow {REPO}/data:/mnt/airflow/data --uid=50000 --gid=0",
        "apply Namespace/airflow (create, server-side)",
        "apply PersistentVolume/airflow-airflow-logs (create, server-side)",
        "apply PersistentVolumeClaim/airflow-logs -n airflow (create, server-side)",
        "apply PersistentVolume/airflow-airflow-dags (create, server-side)",
        "apply PersistentVolumeClaim/airflow-dags -n airflow (create, server-side)",
        "apply PersistentVolume/airflow-airflow-data (create, server-side)",
        "apply PersistentVolumeClaim/airflow-data -n airflow (create, server-side)",
    ]
    assert plan[: len(expected)] == expected
    assert plan[len(expected)].startswith("minikube ssh -p airflow -- 'sudo install -d -o 50000 -g 0 -m 0775 "
                                          "/data/airflow-logs /mnt/airflow/data/example1")
    rest = plan[len(expected) + 1:]
    assert rest[0] == "apply Secret/airflow-core-secrets -n airflow (create, server-side)"
    assert "apply ConfigMap/example1 -n airflow (create, server-side)" in rest
    # Last, once Airflow would answer: the connections, variables and pools of k8s/example-db/airflow.yaml.
    objects = ["create Airflow connection example_db (REST API)", "create Airflow variable example_db_table (REST API)",
               "create Airflow pool example_db (REST API)"]
    assert rest[-3:] == objects
    assert rest[-5] == (f"helm --kube-context airflow -n airflow upgrade --install airflow airflow "
                        f"--repo https://airflow.apache.org --version {VERSIONS.chart} -f {values} --timeout 900s")
    assert rest[-4] == "port-forward svc/airflow-api-server to localhost:8090 (supervised, background)"
    assert "Dry run complete: nothing was changed" in result.stdout


def test_no_secret_value_appears_in_any_output(tmp_path: Path) -> None:
    token, db_password = secrets.token_urlsafe(24), secrets.token_hex(16)
    project = tmp_path / "projects" / "proj"
    project.mkdir(parents=True)
    (project / "config.env").write_text("MODE=test\n")
    (project / "secret.env").write_text(f"API_TOKEN={token}\n")
    (tmp_path / "db.url").write_text(f"postgresql://airflow:{db_password}@db.example:5432/airflow\n")
    overlay = tmp_path / "o.yaml"
    overlay.write_text(f"""
targets:
  t:
    extends: existing
    existing: {{kubeconfig: {tmp_path / 'none'}}}
    projects: [proj]
    projects_dir: {tmp_path / 'projects'}
    database: {{mode: external, url_file: {tmp_path / 'db.url'}}}
""")
    up = run_cli("up", "--dry-run", "--target", "t", "--settings", str(overlay), "-v")
    assert up.returncode == 0, up.stderr
    assert "apply Secret/proj -n airflow" in up.stdout
    render = run_cli("render", "--target", "t", "--settings", str(overlay), "--out", str(tmp_path / "out"))
    assert render.returncode == 0, render.stderr
    written = "".join(p.read_text() for p in (tmp_path / "out").glob("*.yaml"))
    for text in (up.stdout, up.stderr, render.stdout, render.stderr, written):
        assert token not in text
        assert db_password not in text
    assert "API_TOKEN" in written  # the key is shown, its value masked


def test_status_plans_without_a_cluster(tmp_path: Path) -> None:
    result = run_cli("status", env={"KUBECONFIG": str(tmp_path / "none")})
    assert result.returncode == 0, result.stderr
    assert "minikube profile airflow" in result.stdout
    assert "namespace   airflow: absent" in result.stdout
