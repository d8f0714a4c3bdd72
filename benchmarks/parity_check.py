"""The parity check per target (`dags --target T --no-server`, as `up` runs it), against the integrity gate
alone on the same DAGs (the DagBag parse it builds on, in a fresh process too), medians of RUNS runs.

    python benchmarks/parity_check.py [--runs 5] [--targets local,existing,gke,composer,composer-rehearsal]

Target: <= 5 s per target for the example DAGs. The difference to the gate alone is what parity costs (the
chart rendered by `helm template` on Helm targets, every task pod built and checked).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from _timing import REPO, automation, report

TARGETS = "local,existing,gke,composer,composer-rehearsal"
GATE_ALONE = "from automation.core.runner import Runner; from automation.dags.gate import gate; gate(Runner())"


def gate_alone() -> float:
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", GATE_ALONE], cwd=REPO, check=True, capture_output=True)
    return time.monotonic() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--targets", default=TARGETS)
    args = parser.parse_args()
    gate = report("integrity gate alone (DagBag parse, no target)", [gate_alone() for _ in range(args.runs)])
    for target in args.targets.split(","):
        median = report(f"parity check, target {target}",
                        [automation("dags", "--target", target, "--no-server") for _ in range(args.runs)], 5.0)
        print(f"    parity cost over the gate alone: {median - gate:+.2f}s")


if __name__ == "__main__":
    main()
