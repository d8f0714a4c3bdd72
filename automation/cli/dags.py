"""`python -m automation dags`: the DAG integrity gate on its own (also step 8 of `up`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from automation.cli.args import positive_float, target_of
from automation.cli.registry import command
from automation.core.errors import UserError
from automation.core.runner import Runner


def _args(p: argparse.ArgumentParser) -> None:
    from automation.dags.gate import DAGS_FOLDER, MAX_PARSE_SECONDS

    p.add_argument("--max-seconds", type=positive_float, default=MAX_PARSE_SECONDS,
                   help=f"longest parse time allowed per DAG file (default {MAX_PARSE_SECONDS:g})")
    p.add_argument("--dags-folder", type=Path, default=DAGS_FOLDER, help="DAG folder (default: dags/)")
    p.add_argument("--no-server", action="store_true",
                   help="skip the server-side dry run even when the target's cluster is reachable")


@command("dags", "DAG integrity gate and parity check for a target: import errors, cycles, parse time, and "
                 "every task pod built under the target's environment and checked against it", _args)
def _dags(args: argparse.Namespace, runner: Runner) -> None:
    from automation.dags import parity
    from automation.providers import provider_for
    from automation.providers.base import UpOptions

    if not args.dags_folder.is_dir():
        raise UserError(f"--dags-folder {args.dags_folder} is not a folder", "give the folder holding the DAG files")
    provider = provider_for(runner, target_of(args))
    with runner.step(f"DAG integrity and parity with target {provider.target.name} ({args.dags_folder})"):
        # What `up` would deploy with the target's own values files (`up --values` adds to them).
        deployment = provider.deployer.prepare(UpOptions())
        parity.gate(runner, provider, deployment, args.dags_folder.resolve(), server=not args.no_server,
                    max_seconds=args.max_seconds)
