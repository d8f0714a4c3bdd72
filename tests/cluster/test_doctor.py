"""`doctor` on the real cluster: a healthy target passes every check; a stopped UI port-forward and a worker
image the nodes lack are each found, with the fix named (and the named fix for the forward, `up`, works)."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from automation.core.runner import Runner
from automation.providers import provider_for
from automation.settings.image_tags import read_tags
from tests.cluster.support import TARGET, cli, cluster_target
from tests.conftest import HOST_CA, REPO, run_cli

pytestmark = pytest.mark.cluster


def doctor(*args: str, target: str = TARGET) -> tuple[subprocess.CompletedProcess[str], float]:
    t0 = time.monotonic()
    result = run_cli("doctor", "--target", target, *args, timeout=300)
    seconds = time.monotonic() - t0
    print(f"$ automation doctor --target {target} {' '.join(args)} -> {result.returncode} in {seconds:.2f}s\n"
          f"{result.stdout}\n{result.stderr}")
    assert "Traceback" not in result.stdout + result.stderr
    return result, seconds


def line_of(stdout: str, check: str) -> str:
    return next(line for line in stdout.splitlines() if line[9:].startswith(check))


@pytest.fixture(scope="module")
def healthy(k8s_cluster: Any, base_image: str) -> Any:
    """The target up (a no-op when it already is) with its worker images delivered: nothing should block."""
    target, _ = cluster_target()
    up = cli("up")  # with the DAG gate, so its pass is remembered
    assert up.returncode == 0, up.stdout + up.stderr
    images = cli("images", "--base-image", base_image, *(["--ca-bundle", str(HOST_CA)] if HOST_CA.is_file() else []))
    assert images.returncode == 0, images.stdout + images.stderr
    return target


def test_a_healthy_target_passes_every_check(healthy: Any) -> None:
    # Its speed (target: under 5 s) is measured by benchmarks/doctor.py, not here.
    result, _ = doctor()
    assert result.returncode == 0, result.stdout
    assert "BLOCKER" not in result.stdout
    for check in ("context", "mounts", "airflow secrets", "execution API", "JWT secret", "worker images",
                  "DAG gate", "ui port-forward"):
        assert line_of(result.stdout, check).startswith("ok "), check
    assert "read back in a pod" in line_of(result.stdout, "mounts")
    assert "unchanged since `up` wrote it" in line_of(result.stdout, "airflow secrets")


def test_a_stopped_port_forward_is_found_and_ui_is_the_fix(healthy: Any) -> None:
    forward = provider_for(Runner(out=io.StringIO()), healthy).deployer.ui_forward
    assert forward is not None
    assert forward.stop(Runner(out=io.StringIO())), "up left no UI port-forward running"
    result, _ = doctor()
    line = line_of(result.stdout, "ui port-forward")
    assert line.startswith("WARN") and "not running" in line
    assert f"-- fix: nox -s ui -- --target {TARGET}" in line
    again = cli("ui", "--no-browser")  # the fix as named
    assert again.returncode == 0, again.stdout + again.stderr
    url = re.search(r"(http://localhost:\d+)  login ", again.stdout)
    assert url and httpx.get(f"{url.group(1)}/api/v2/version", timeout=30).status_code == 200, again.stdout
    result, _ = doctor()
    assert line_of(result.stdout, "ui port-forward").startswith("ok ")


def test_a_worker_image_the_nodes_lack_blocks_and_names_the_fix(healthy: Any, tmp_path: Path) -> None:
    """The same deployment seen by a target whose pods name their images under a registry no node holds and
    nothing serves: every worker image is missing for it."""
    name = f"{TARGET}-doctor-absent"
    overlay = tmp_path / "absent.yaml"
    overlay.write_text(f"targets:\n  {name}:\n    extends: {TARGET}\n"
                       "    images: {load: registry, registry: 127.0.0.1:9, fallback: null}\n")
    try:
        result, _ = doctor("--settings", str(overlay), target=name)
    finally:
        shutil.rmtree(REPO / ".state" / name, ignore_errors=True)
    assert result.returncode == 1, result.stdout
    line = line_of(result.stdout, "worker images")
    assert line.startswith("BLOCKER")
    for image, tag in read_tags().items():
        assert f"127.0.0.1:9/{image}:{tag}" in line
    assert f"-- fix: nox -s images -- --target {name} --settings {overlay}" in line
