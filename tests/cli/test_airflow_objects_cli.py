"""Connections, variables and pools through `up --dry-run` as a user runs it: a bad airflow.yaml stops `up`
before anything is made with one line naming file, entry and key; the plan on every kind of target (the REST
API on every target), with no secret value in any output."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import run_cli

SECRET = "pw-7c1e0b9a55d2"


def overlay(tmp_path: Path, airflow_yaml: str) -> str:
    """One project declaring `airflow_yaml`, on targets of their own (their lock is not another test's)."""
    folder = tmp_path / "projects" / "proj"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.env").write_text("A=1\n")
    (folder / "secret.env").write_text(f"DB_URL=postgresql://airflow:{SECRET}@db.example:5432/app\n")
    (folder / "secret.env.example").write_text("DB_URL=\n")
    (folder / "airflow.yaml").write_text(airflow_yaml)
    common = {"projects": ["proj"], "projects_dir": str(tmp_path / "projects")}
    body = {"objects-t": {"extends": "existing", "existing": {"kubeconfig": str(tmp_path / "none")}, **common},
            "objects-composer": {"extends": "composer", **common}}
    path = tmp_path / "o.yaml"
    path.write_text(yaml.safe_dump({"targets": body}))
    return str(path)


BAD = {
    "port": ("connections: {db: {type: postgres, port: 0}}\n", "connections.db.port: Input should be greater"),
    "unknown key": ("variables: {v: {value: 1, descripton: x}}\n", "variables.v.descripton: unknown key"),
    "missing secret": ("connections: {db: {type: http, password: {secret: NOPE}}}\n",
                       "connections.db.password: secret NOPE is not in"),
    "slots": ("pools: {p: {slots: lots}}\n", "pools.p.slots: Input should be a valid integer"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_airflow_yaml_is_one_line_before_anything_is_made(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    result = run_cli("up", "--dry-run", "--target", "objects-t", "--settings", overlay(tmp_path, text), timeout=120)
    assert result.returncode == 2, result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {tmp_path}/projects/proj/airflow.yaml: ") and " -- " in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in result.stdout + result.stderr
    assert "==> " not in result.stdout.split("prerequisites")[-1]  # no step after the inputs were read


DECLARED = """
connections:
  app_db: {uri: {secret: DB_URL}}
variables:
  app_table: {value: readings}
pools:
  app_writers: {slots: 2}
"""


def planned(stdout: str) -> list[str]:
    return [line.strip().removeprefix("[dry-run] ").removeprefix("$ ") for line in stdout.splitlines()
            if "[dry-run]" in line]


def test_cluster_targets_plan_the_rest_api_last(tmp_path: Path) -> None:
    result = run_cli("up", "--dry-run", "--skip-dags-check", "--target", "objects-t", "--settings",
                     overlay(tmp_path, DECLARED), timeout=300)
    assert result.returncode == 0, result.stderr
    assert planned(result.stdout)[-3:] == ["create Airflow connection app_db (REST API)",
                                           "create Airflow variable app_table (REST API)",
                                           "create Airflow pool app_writers (REST API)"]
    assert SECRET not in result.stdout + result.stderr


def test_composer_plans_the_same_rest_api_writes(tmp_path: Path) -> None:
    """Composer's Airflow 3 takes them through the same REST API (gcloud refuses `environments run connections` for
    Airflow 3); with no environment to read, the plan is every object created."""
    result = run_cli("up", "--dry-run", "--skip-dags-check", "--target", "objects-composer", "--settings",
                     overlay(tmp_path, DECLARED), timeout=300)
    assert result.returncode == 0, result.stderr
    assert planned(result.stdout)[-3:] == ["create Airflow connection app_db (REST API)",
                                           "create Airflow variable app_table (REST API)",
                                           "create Airflow pool app_writers (REST API)"]
    assert "environments run" not in result.stdout
    assert SECRET not in result.stdout + result.stderr
