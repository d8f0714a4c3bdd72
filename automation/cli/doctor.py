"""`doctor`: one report of what stands between the target and a working Airflow, with a fix per finding."""

from __future__ import annotations

import argparse

from automation.cli.args import target_of
from automation.cli.registry import command
from automation.core.runner import Runner


@command("doctor", "check the target: tools, context, CPU/memory, port-forward, mounts, secrets, execution API, "
                   "JWT, worker images, DAG gate; a fix per finding, exit 1 on a blocker")
def _doctor(args: argparse.Namespace, runner: Runner) -> int:
    from automation.doctor.run import doctor

    return doctor(runner, target_of(args))
