"""Shared by the benchmark scripts: time a command line several times and report the median."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def automation(*args: str, env: dict[str, str] | None = None, check: bool = True) -> float:
    """Seconds one `python -m automation ARGS` took; exits with its error when it fails and `check`."""
    t0 = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "automation", *args], cwd=REPO, capture_output=True, text=True,
                            env={**os.environ, **(env or {})})
    took = time.monotonic() - t0
    if check and result.returncode != 0:
        sys.exit(f"`automation {' '.join(args)}` failed ({result.returncode}): "
                 f"{result.stderr.strip() or result.stdout[-800:]}")
    return took


def from_nothing(reset_db: str, *args: str, env: dict[str, str] | None = None) -> None:
    """`down --purge --yes ARGS`, then `reset_db` (a shell command that recreates an external metadata database,
    whose values the purged Fernet key can no longer read), when given."""
    automation("down", "--purge", "--yes", *args, env=env)
    if reset_db:
        subprocess.run(reset_db, shell=True, check=True, capture_output=True)


def up_login(stdout: str) -> tuple[str, str, str]:
    """URL, user and password from the line `up` ends with: `Airflow is up: URL  login USER / PASSWORD`."""
    line = next(x for x in stdout.splitlines() if x.startswith("Airflow is up: "))
    url, _, user, _, password = line.removeprefix("Airflow is up: ").split()
    return url, user, password


def report(name: str, times: list[float], target: float | None = None) -> float:
    median = statistics.median(times)
    verdict = "" if target is None else f" (target <= {target:g} s: {'ok' if median <= target else 'above target'})"
    print(f"{name}: median {median:.2f}s of {[round(t, 2) for t in times]}{verdict}", flush=True)
    return median
