"""`task DAG_ID TASK_ID` wall time: DAG parse, pod build, docker run (median of several runs).

    python benchmarks/task_run.py [--dag example1] [--task transform] [--runs 3] [-- extra task args]

Target: at most 5 s for example1's transform. Run `nox -s images` (or `python -m automation images`) first.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dag", default="example1")
    parser.add_argument("--task", default="transform")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("extra", nargs="*", help="more arguments for `task` (after --)")
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "automation", "task", args.dag, args.task, *args.extra]
    times = []
    for _ in range(args.runs):
        t0 = time.monotonic()
        result = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
        times.append(time.monotonic() - t0)
        if result.returncode != 0:
            sys.exit(f"task failed ({result.returncode}): {result.stderr.strip() or result.stdout[-500:]}")
    median = statistics.median(times)
    print(f"task {args.dag}.{args.task}: median {median:.2f}s of {[round(t, 2) for t in times]} "
          f"(target <= 5 s: {'ok' if median <= 5 else 'above target'})")


if __name__ == "__main__":
    main()
