"""Planning speed: `up --dry-run` and `status` for the local target with no cluster (median of N runs).

    python benchmarks/lifecycle_plan.py [--runs 5]

Target: under 1 s each. Both run as a user runs them: a fresh `python -m automation` process.
"""

from __future__ import annotations

import argparse
import tempfile

from _timing import automation, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        env = {"KUBECONFIG": f"{tmp}/none"}  # the plan from nothing, as on a new laptop
        report("up --dry-run (local)", [automation("up", "--dry-run", env=env) for _ in range(args.runs)], 1.0)
        report("status (local)", [automation("status", env=env) for _ in range(args.runs)], 1.0)


if __name__ == "__main__":
    main()
