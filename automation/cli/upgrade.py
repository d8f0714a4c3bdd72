"""`python -m automation upgrade-check --to VERSION`: what moving to another Airflow 3 release would break."""

from __future__ import annotations

import argparse
from pathlib import Path

from automation.cli.args import target_of
from automation.cli.registry import command
from automation.core.errors import UserError
from automation.core.paths import DAGS_FOLDER
from automation.core.runner import Runner


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", required=True, metavar="VERSION", help="the Airflow 3 release to check, e.g. 3.3.2")
    p.add_argument("--from", dest="current", metavar="VERSION",
                   help="the Airflow 3 release the DAGs run on now, when it is not the pinned one (an environment "
                        "running an older pin, a Composer build): both sides then run in environments of their "
                        "releases")
    p.add_argument("--from-provider-version", dest="current_provider", metavar="VERSION",
                   help="with --from: the cncf-kubernetes provider the DAGs run with now (default: the one that "
                        "release's constraints pin, else the newest PyPI resolves)")
    p.add_argument("--provider-version", metavar="VERSION",
                   help="the cncf-kubernetes provider to check with (default: the one the release's constraints "
                        "pin, else the newest PyPI resolves)")
    p.add_argument("--dags-folder", type=Path, default=DAGS_FOLDER, help="DAG folder (default: dags/)")
    p.add_argument("--chart", type=Path, metavar="DIR",
                   help="a local copy of the pinned chart, for its values.schema.json (default: the target's "
                        "chart.path, else $AIRFLOW_CHART_DIR)")


@command("upgrade-check", "What moving to another Airflow 3 release breaks or changes: every DAG parsed and every "
                          "task pod built by both releases, ruff's AIR rules, the chart values against its schema",
         _args)
def _upgrade_check(args: argparse.Namespace, runner: Runner) -> None:
    from automation.upgrade import check, environment

    version = environment.check_version(args.to)
    current = environment.check_version(args.current, "--from") if args.current else None
    if current == version:
        raise UserError(f"--from {current} and --to {version} are the same release",
                        "give two different releases (to check a provider alone, leave out --from)")
    if args.current_provider:
        if not current:
            raise UserError("--from-provider-version is the provider of --from's release", "give --from VERSION too")
        environment.check_provider_version(args.current_provider)
    if args.provider_version:
        environment.check_provider_version(args.provider_version)
    if not args.dags_folder.is_dir():
        raise UserError(f"--dags-folder {args.dags_folder} is not a folder", "give the folder holding the DAG files")
    if args.chart is not None and not (args.chart / "values.schema.json").is_file():
        raise UserError(f"--chart {args.chart} holds no values.schema.json", "give the folder of the pinned chart")
    options = check.Options(version, args.dags_folder, args.provider_version, args.chart, current,
                            args.current_provider)
    check.gate(runner, target_of(args), options)
