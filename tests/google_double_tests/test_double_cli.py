"""`python -m tests.google_double`: the double by hand, for a shell where gcloud is tried out."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO, need
from tests.google_double.fixture import GCLOUD


def test_the_module_prints_gcloud_s_environment_and_serves_it(tmp_path: Path) -> None:
    need(shutil.which("gcloud") is not None, "the gcloud CLI (Google Cloud SDK)")
    server = subprocess.Popen([sys.executable, "-m", "tests.google_double", "--port", "0", "--config-dir",
                               str(tmp_path / "gcloud"), "--composer-environment", "env"], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        exported: dict[str, str] = {}
        for line in server.stdout:
            if line.startswith("#"):
                assert "the Google APIs double listens on http://127.0.0.1:" in line
                break
            name, _, value = line.removeprefix("export ").strip().partition("=")
            exported[name] = shlex.split(value)[0]
        assert exported["CLOUDSDK_CONFIG"] == str(tmp_path / "gcloud")
        assert exported["CLOUDSDK_API_ENDPOINT_OVERRIDES_COMPOSER"].endswith("/composer/")
        assert exported["CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE"].endswith("/storage/v1/")
        base = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDSDK_")}
        described = subprocess.run([GCLOUD, "composer", "environments", "describe", "env", "--location",
                                    "us-central1", "--format=value(state)"], env={**base, **exported},
                                   capture_output=True, text=True, timeout=120)
        assert (described.returncode, described.stdout.strip()) == (0, "RUNNING"), described.stderr
    finally:
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
