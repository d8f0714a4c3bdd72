"""pytest fixtures: a fresh double per test, and the real gcloud pointed at it.

Import them into a conftest.py (`from tests.google_double.fixture import gcloud, google_double  # noqa: F401`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import need
from tests.google_double.server import GoogleDouble

GCLOUD = shutil.which("gcloud") or "/usr/bin/gcloud"


class Gcloud:
    """The installed gcloud with only the double's environment: every CLOUDSDK_* of the caller's shell dropped, a
    KUBECONFIG of its own."""

    def __init__(self, double: GoogleDouble, home: Path):
        self.double = double
        self.config_dir = home / "gcloud"
        self.kubeconfig = home / "kubeconfig"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("CLOUDSDK_", "GOOGLE_"))}
        self.env = {**base, **double.environment(self.config_dir), "KUBECONFIG": str(self.kubeconfig)}

    def __call__(self, *args: str, check: bool = True, timeout: float = 120,
                 cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([GCLOUD, *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                                cwd=cwd)
        if check and result.returncode != 0:
            raise AssertionError(f"gcloud {' '.join(args)} -> {result.returncode}\n{result.stderr}\n"
                                 f"requests: {self.double.methods()}")
        return result


@pytest.fixture
def google_double() -> Iterator[GoogleDouble]:
    with GoogleDouble() as double:
        yield double
    # A request the double could not handle is its bug, whatever the test concluded from gcloud's output.
    assert not double.state.failures, "\n".join(double.state.failures)


@pytest.fixture
def gcloud(google_double: GoogleDouble, tmp_path: Path) -> Gcloud:
    need(shutil.which("gcloud") is not None, "the gcloud CLI (Google Cloud SDK)")
    return Gcloud(google_double, tmp_path)
