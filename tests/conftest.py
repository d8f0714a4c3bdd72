"""Shared test plumbing. A test that needs something absent skips locally and FAILS under CI=true:
a skip is never counted as a pass in CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# The worker images' base. Where no registry is reachable (this repository's CI machine), a base made here
# (debootstrap + docker import, as root); where one is (GitHub's runners), WORKER_BASE_IMAGE names an image
# to pull instead, such as the Dockerfile's own python:3.12-slim (.ci/cluster/minikube.sh sets it).
BASE = os.environ.get("WORKER_BASE_IMAGE", "local/worker-base:bookworm-py311")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def postgres_bin() -> Path:
    """The bin folder of the newest PostgreSQL server installed (Debian 12 has 15, Ubuntu 24.04 has 16)."""
    majors = sorted(int(p.parent.parent.name) for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")
                    if p.parent.parent.name.isdigit())
    return Path(f"/usr/lib/postgresql/{majors[-1]}/bin") if majors else Path("/usr/lib/postgresql/MISSING/bin")


PG_BIN = postgres_bin()


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
    if not BASE.startswith("local/"):  # an image of a registry: pulled, no root needed
        pulled = subprocess.run(["docker", "pull", "-q", BASE], capture_output=True, text=True, timeout=600)
        need(pulled.returncode == 0, f"the base image {BASE} pulled: {pulled.stderr.strip()[-200:]}")
        return BASE
    need(shutil.which("debootstrap") is not None and os.geteuid() == 0, "debootstrap run as root (for the base)")
    made = subprocess.run(["bash", str(REPO / ".ci" / "worker-base.sh"), BASE], capture_output=True, text=True,
                          timeout=1200)
    assert made.returncode == 0, made.stderr
    return BASE


def fresh_clone(dest: Path) -> Path:
    """This checkout as a new user gets it: `git clone`, plus what the working tree changes in tracked files and
    its untracked files git does not ignore (in CI, a clean clone of main, there are none)."""
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True, timeout=300)
    diff = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=REPO, capture_output=True, check=True).stdout
    if diff:
        subprocess.run(["git", "apply", "--whitespace=nowarn"], cwd=dest, input=diff, check=True)
    untracked = subprocess.run(["git", "ls-files", "--others", "--exclude-standard", "-z"], cwd=REPO,
                               capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, untracked):
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    return dest


def nox_sessions() -> set[str]:
    """The session names noxfile.py defines, as nox itself lists them."""
    need(shutil.which("nox") is not None, "nox (the README's requirement)")
    listed = subprocess.run(["nox", "--list"], cwd=REPO, capture_output=True, text=True, check=True, timeout=120)
    # "* NAME -> doc" for the default selection, "- NAME -> doc" for the others (`--json` lists the default only).
    return set(re.findall(r"^[*-] (\S+) ->", listed.stdout, re.M))
