"""The nox sessions as a new user meets them: each environment is made in a fresh clone from the committed
uv.lock alone, and a lock out of date with pyproject.toml stops a session before anything is installed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from automation.core.lockfile import versions
from tests.conftest import REPO, fresh_clone, need

STALE = "uv.lock is out of date with pyproject.toml -- run `nox -s lock`"


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    need(shutil.which("nox") is not None and shutil.which("uv") is not None and shutil.which("git") is not None,
         "nox, uv and git (the README's requirements)")
    return fresh_clone(tmp_path / "clone")


def nox(clone: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # Not the suite's own environment: the session makes its own, as from a user's shell.
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT")}
    result = subprocess.run(["nox", *args], cwd=clone, capture_output=True, text=True, timeout=1200, env=env)
    print(f"$ nox {' '.join(args)} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def test_the_up_environment_is_made_from_the_lock_and_parses_every_dag(clone: Path) -> None:
    """What failed on a fresh clone: `up`'s environment resolved against the day's index (an OpenTelemetry API
    newer than Airflow's SDK), and its DAG gate could not import Airflow."""
    made = nox(clone, "-s", "up", "--install-only")
    assert made.returncode == 0
    python = clone / ".nox" / "up" / "bin" / "python"
    listed = subprocess.run(["uv", "pip", "list", "--python", str(python), "--format", "json"], capture_output=True,
                            text=True, check=True)
    installed = {p["name"].lower(): p["version"] for p in json.loads(listed.stdout)}
    locked = versions((clone / "uv.lock").read_text())
    for package in ("apache-airflow", "apache-airflow-core", "apache-airflow-providers-cncf-kubernetes",
                    "opentelemetry-api", "opentelemetry-sdk", "kubernetes", "gcsfs", "pydantic"):
        assert installed[package] == locked[package], package
    # The test extra is not part of `up`: an environment holds its own selection, nothing more.
    assert "pytest" not in installed
    for template in clone.glob("k8s/*/secret.env.example"):  # the README's quickstart step
        shutil.copy2(template, template.with_suffix(""))
    gate = subprocess.run([str(python), "-m", "automation", "dags", "--no-server"], cwd=clone, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "KUBECONFIG": "/nonexistent"})
    assert gate.returncode == 0, gate.stdout + gate.stderr
    assert "no import errors" in gate.stdout
    assert "example1/example1.py" in gate.stdout and "example_xcom/example_xcom.py" in gate.stdout


def test_a_second_session_start_installs_nothing(clone: Path) -> None:
    first = nox(clone, "-s", "status", "--install-only")
    assert first.returncode == 0
    again = nox(clone, "-s", "status", "--install-only")
    assert again.returncode == 0 and "install skipped" in again.stderr


def test_a_session_refuses_a_stale_lock_before_installing(clone: Path) -> None:
    text = (clone / "pyproject.toml").read_text()
    (clone / "pyproject.toml").write_text(text.replace('"sh>=2.0",', '"sh>=2.0",\n    "six>=1.16",', 1))
    result = nox(clone, "-s", "status", "--", "--help")
    assert result.returncode != 0
    assert STALE in result.stdout + result.stderr
    assert not (clone / ".nox" / "status" / ".automation-installed").exists()
    assert (clone / "uv.lock").read_bytes() == (REPO / "uv.lock").read_bytes()


def test_a_missing_interpreter_fails_the_session() -> None:
    """What a user without Python 3.11 met: nox skipped `up` and exited 0, as if it had run. Run outside CI (nox's
    default errors under CI only) and with no download, so that the interpreter is missing for sure."""
    need(shutil.which("nox") is not None, "nox (the README's requirement)")
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "VIRTUAL_ENV", "NOX_DOWNLOAD_PYTHON")}
    result = subprocess.run(["nox", "--force-python", "3.99", "--download-python", "never", "-s", "status", "--",
                             "--help"], cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode != 0
    assert "failed: Python interpreter 3.99 not found" in result.stderr
    assert "skipped" not in result.stderr


def test_version_through_a_session(clone: Path) -> None:
    """`--version` after a command: a nox session passes its arguments to one."""
    shown = nox(clone, "-s", "status", "--", "--version")
    assert shown.returncode == 0
    assert f"automation {tomllib.loads((clone / 'pyproject.toml').read_text())['project']['version']}" in shown.stdout
