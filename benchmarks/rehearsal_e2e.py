"""example1's `e2e` on the Composer rehearsal (Composer's executor: a Celery worker starts each task pod, through
Composer's kubeconfig file; the API signed in to with a Google token) against example1's `e2e` on a local-style
target (the KubernetesExecutor starts a worker pod per task, which starts the task pod), same run and same cluster
(one after the other: both use the same namespace), medians of RUNS runs each.

    python benchmarks/rehearsal_e2e.py --local ci --rehearsal ci-rehearsal [--runs 3] [--reset-db 'CMD']

It DELETES both targets' environments (`down --purge --yes`) between the two halves: use a test cluster.
Target: rehearsal / local <= 1.3 (the rehearsal adds a fetch of the task code from the bucket per task and
gs:// reads and writes through the emulator; it saves the KubernetesExecutor's worker pod per task). The physical
floor of both is the three task pods' own run, printed by `e2e` per task.

The rehearsal half signs in with gcloud's access token: run it where `gcloud auth print-access-token` works and
the target's `tokeninfo_url` vouches for it (Google's by default).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
from pathlib import Path

from _timing import REPO, from_nothing, report
from _timing import automation as run

from automation.core.versions import VERSIONS


def half(target: str, runs: int, reset_db: str, base_image: str, env: dict[str, str]) -> float:
    t = ["--target", target]

    def automation(*args: str) -> float:
        return run(*args, env=env)

    from_nothing(reset_db, *t, env=env)
    automation("up", *t)
    image_args = ["--base-image", base_image] if base_image else []
    automation("images", *t, *image_args, "--ca-bundle", "/etc/ssl/certs/ca-certificates.crt")
    automation("e2e", "--dag", "example1", *t)  # the first run pulls nothing new but warms the worker pods
    median = report(f"e2e example1 on {target} (trigger to output checked)",
                    [automation("e2e", "--dag", "example1", *t) for _ in range(runs)])
    automation("down", "--purge", "--yes", *t)
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--local", default="ci", help="a local-style target (mounts, claims)")
    parser.add_argument("--rehearsal", default="ci-rehearsal", help="a composer-rehearsal target")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reset-db", default="", help="command that recreates an external metadata DB")
    parser.add_argument("--base-image", default="", help="base image for `images` (default: the Dockerfiles')")
    args = parser.parse_args()
    # Both halves on the pinned Airflow, so that the ratio measures the contract, not two Airflow versions.
    overlay = Path(tempfile.mkdtemp(prefix="bench-")) / "same-airflow.yaml"
    overlay.write_text(f"targets:\n  {args.rehearsal}:\n    airflow_version: '{VERSIONS.airflow}'\n")
    settings = os.environ.get("AUTOMATION_SETTINGS", "")
    env = {"AUTOMATION_SETTINGS": f"{settings}:{overlay}" if settings else str(overlay)}
    print(f"Airflow {VERSIONS.airflow} on both targets: {args.local} on KubernetesExecutor, {args.rehearsal} on "
          "CeleryExecutor")
    try:
        local = half(args.local, args.runs, args.reset_db, args.base_image, env)
        rehearsal = half(args.rehearsal, args.runs, args.reset_db, args.base_image, env)
    finally:
        subprocess.run(["git", "checkout", "--", "dags/common/images.json"], cwd=REPO, check=False)
    print(f"ratio rehearsal / local: {rehearsal / local:.2f} (target <= 1.3: "
          f"{'ok' if rehearsal / local <= 1.3 else 'above target'})")


if __name__ == "__main__":
    main()
