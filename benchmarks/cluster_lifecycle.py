"""The lifecycle on a real cluster, in one run: cold `up` against a bare `helm upgrade --install --wait` of the
same chart and values, a no-op `up`, example1's `e2e`, and an unchanged `images`.

    python benchmarks/cluster_lifecycle.py --target ci [--runs 3] [--reset-db 'CMD'] [--base-image IMG]

It DELETES the target's environment (`down --purge --yes`) to measure from nothing: use a test cluster.
`--reset-db` recreates an external metadata DB after each purge (CI: 'bash .ci/postgres.sh --reset').
Targets: cold up / bare helm <= 1.3; no-op up <= 3 s; e2e <= 60 s; unchanged images <= 1 s.
"""

from __future__ import annotations

import argparse
import subprocess
import time

from _timing import REPO, automation, from_nothing, report

from automation.core.runner import Runner
from automation.k8s.helm import chart_ref
from automation.providers import provider_for
from automation.settings import load_target


def bare_helm_install(target_name: str) -> float:
    """What `up` saves a user from typing, timed: helm alone, with the values `up` computed."""
    target = load_target(target_name)
    cluster = provider_for(Runner(), target).cluster
    assert cluster is not None, f"target {target.name} has no cluster this machine reaches"
    values = REPO / ".state" / target.name / "values.merged.yaml"
    cmd = ["helm", *cluster.kube_args(), "-n", target.namespace, "upgrade", "--install", target.release,
           *chart_ref(target).args, "-f", str(values), "--wait", "--timeout", "15m"]
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--runs", type=int, default=3, help="runs of the fast measurements")
    parser.add_argument("--cold-runs", type=int, default=2, help="runs of cold up and bare helm")
    parser.add_argument("--reset-db", default="", help="command that recreates an external metadata DB")
    parser.add_argument("--base-image", default="", help="base image for `images` (default: the Dockerfiles')")
    args = parser.parse_args()
    t = ["--target", args.target]

    def fresh() -> None:
        from_nothing(args.reset_db, *t)

    cold: list[float] = []
    bare: list[float] = []
    for _ in range(args.cold_runs):
        fresh()
        cold.append(automation("up", *t))
        # Same objects and values, Airflow removed: helm alone reinstalls it. The metadata DB is kept: with a
        # fresh one, `--wait` deadlocks (pods wait for the migration job, a post-install hook that Helm runs
        # only after the wait), so the bare figure starts with the DB migrated - a lower bound for helm.
        automation("down", *t)
        bare.append(bare_helm_install(args.target))
    if cold:
        cold_median = report("cold up (from nothing to Ready + UI)", cold)
        image = provider_for(Runner(), load_target(args.target)).airflow_image()
        bare_median = report(f"bare helm upgrade --install --wait ({image})", bare)
        print(f"ratio cold up / bare helm: {cold_median / bare_median:.2f} (target <= 1.3)")
    automation("up", *t)
    report("no-op up", [automation("up", *t) for _ in range(args.runs)], 3.0)
    image_args = [*t, *(["--base-image", args.base_image] if args.base_image else [])]
    ca = "/etc/ssl/certs/ca-certificates.crt"
    automation("images", *image_args, "--ca-bundle", ca)
    report("unchanged images", [automation("images", *image_args, "--ca-bundle", ca) for _ in range(args.runs)], 1.0)
    report("e2e example1 (trigger to output checked)",
           [automation("e2e", "--dag", "example1", *t) for _ in range(args.runs)], 60.0)
    subprocess.run(["git", "checkout", "--", "dags/common/images.json"], cwd=REPO, check=False)


if __name__ == "__main__":
    main()
