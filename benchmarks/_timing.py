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


def report(name: str, times: list[float], target: float | None = None) -> float:
    median = statistics.median(times)
    verdict = "" if target is None else f" (target <= {target:g} s: {'ok' if median <= target else 'above target'})"
    print(f"{name}: median {median:.2f}s of {[round(t, 2) for t in times]}{verdict}", flush=True)
    return median
