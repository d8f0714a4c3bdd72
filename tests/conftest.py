"""Shared test plumbing. A test that needs something absent skips locally and FAILS under CI=true:
a skip is never counted as a pass in CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


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
