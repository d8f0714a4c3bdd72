"""Command `e2e`: trigger a DAG through the REST API and check its declared output."""

from __future__ import annotations

import argparse

from automation.cli.args import positive_int, target_of
from automation.cli.registry import command
from automation.core.runner import Runner, register_secret


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dag", default="example1", help="DAG id to run (default: example1)")
    p.add_argument("--timeout", type=positive_int, default=600, help="seconds to wait for the run (default 600)")
    p.add_argument("--url", help="Airflow API URL (default: the port-forward of `nox -s up`, or a temporary one)")
    p.add_argument("--username", help="login user (default: the target's login.username)")
    p.add_argument("--password", help="login password (default: the target's login, or its Secret)")
    p.add_argument("--connect-timeout", type=positive_int, default=60,
                   help="seconds to keep retrying an API server that is starting (default 60)")
    p.add_argument("--parse-timeout", type=positive_int, default=180,
                   help="seconds to wait for the dag-processor to parse the DAG (default 180)")


@command("e2e", "trigger a DAG through the REST API, wait for it, check its declared output", _args)
def _e2e(args: argparse.Namespace, runner: Runner) -> int:
    from automation.e2e.run import Options, e2e

    register_secret(args.password)
    opts = Options(dag=args.dag, timeout=args.timeout, url=args.url, username=args.username,
                   password=args.password, connect_timeout=args.connect_timeout, parse_timeout=args.parse_timeout)
    return e2e(runner, target_of(args), opts)
