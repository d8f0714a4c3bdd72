"""Command `task`: run one task's pod in local Docker (the inner loop)."""

from __future__ import annotations

import argparse
from pathlib import Path

from automation.cli.args import target_of
from automation.cli.registry import command
from automation.core.runner import Runner


def _task_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("dag_id")
    p.add_argument("task_id")
    p.add_argument("--dags-dir", type=Path, metavar="DIR", help="DAG folder (default: the target's dags mount)")
    p.add_argument("--data-dir", type=Path, metavar="DIR",
                   help="folder standing for the data claim (default: the target's data mount, data/)")
    # Fixed by default so that consecutive tasks of one DAG share their run's files, as in one DAG run.
    p.add_argument("--run-id", default="manual__local", help="the run id templates see (default manual__local)")
    p.add_argument("--reparse", action="store_true",
                   help="parse the DAG even when its files are unchanged since the last run")
    p.add_argument("--user", metavar="UID[:GID]", help="run as this user instead of the pod's securityContext")


@command("task", "run one KubernetesPodOperator task's pod locally with docker run", _task_args)
def _task(args: argparse.Namespace, runner: Runner) -> int:
    from automation.task.run import run_task

    return run_task(runner, target_of(args), args.dag_id, args.task_id, dags=args.dags_dir, data=args.data_dir,
                    user=args.user, run_id=args.run_id, reparse=args.reparse)
