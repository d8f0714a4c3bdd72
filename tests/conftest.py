"""Shared test plumbing. A test that needs something absent skips locally and FAILS under CI=true:
a skip is never counted as a pass in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# No image can be pulled in CI: worker images build on a base made here (debootstrap + docker import).
BASE = os.environ.get("WORKER_BASE_IMAGE", "local/worker-base:bookworm-py311")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def need(condition: bool, reason: str) -> None:
    """Skip (locally) or fail (in CI) when a real component this test needs is missing."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"required in CI but missing: {reason}", pytrace=False)
    pytest.skip(reason)


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True).returncode == 0


def run_cli(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
            timeout: float = 900) -> subprocess.CompletedProcess[str]:
    """`python -m automation ARGS` as a user runs it: a separate process, its exit code and output."""
    return subprocess.run([sys.executable, "-m", "automation", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, input=stdin, timeout=timeout)


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def base_image() -> str:
    need(docker_available(), "a running Docker engine")
    if subprocess.run(["docker", "image", "inspect", BASE], capture_output=True).returncode == 0:
        return BASE
    need(shutil.which("debootstrap") is not None and os.geteuid() == 0, "debootstrap run as root (for the base)")
    with tempfile.TemporaryDirectory(prefix="worker-base-") as tmp:
        root = Path(tmp) / "root"
        subprocess.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,python3-pip,"
                        "ca-certificates", "bookworm", str(root)], check=True, capture_output=True, timeout=1200)
        tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
        subprocess.run(["docker", "import", "-", BASE], stdin=tar.stdout, check=True, capture_output=True)
        assert tar.wait() == 0
    return BASE
