"""How long `doctor` takes on a healthy target, against what a user runs by hand for a part of it (medians):

    nox -s benchmark -- doctor --target ci [--runs 5]

The alternative, in the same run: `kubectl version`, `kubectl get nodes` and `kubectl get pods` in the target's
namespace, each one process, as a user would type them. `doctor` does all of that and more (the mounts read back
in a pod, the Airflow secrets' fingerprints, the chart's execution-API and JWT settings, the worker images on
the nodes, the DAG gate, the UI port-forward). Needs a target that is up (`nox -s up`). Target: under 5 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _timing import REPO, automation, report

sys.path.insert(0, str(REPO))

from automation.core.runner import Runner
from automation.providers import provider_for
from automation.settings import load_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    target = load_target(args.target)
    cluster = provider_for(Runner(), target).cluster
    assert cluster is not None, f"target {target.name} has no cluster this machine reaches"
    kubectl = ["kubectl", *cluster.kubectl_args()]

    automation("doctor", "--target", args.target)  # warms the file cache (imports) and fails on a blocker
    doctor = [automation("doctor", "--target", args.target) for _ in range(args.runs)]
    by_hand = []
    for _ in range(args.runs):
        t0 = time.monotonic()
        for cmd in (["version"], ["get", "nodes"], ["get", "pods", "-n", target.namespace]):
            subprocess.run([*kubectl, *cmd], check=True, capture_output=True)
        by_hand.append(time.monotonic() - t0)
    print(f"target {args.target}, {args.runs} runs each")
    report("doctor (every check)", doctor, target=5)
    report("by hand: kubectl version, get nodes, get pods", by_hand)


if __name__ == "__main__":
    main()
