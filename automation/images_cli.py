"""Commands `images` (build and load the worker images) and `task` (run one task's pod in local Docker)."""

from __future__ import annotations

import argparse
from pathlib import Path

from automation.cli import _target, command
from automation.runner import Runner


def _images_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="build only this image (repeatable; also the way to build a MANUAL one)")
    p.add_argument("--build-only", action="store_true", help="build, but do not load into the cluster")
    p.add_argument("--base-image", metavar="IMAGE", help="base image instead of the Dockerfile's python:3.12-slim")
    p.add_argument("--ca-bundle", metavar="FILE", type=Path,
                   help="extra CA bundle trusted during the build (an intercepting proxy); not kept in the image")
    p.add_argument("--installer", choices=("uv", "pip"), default="uv", help=argparse.SUPPRESS)
    p.add_argument("--no-cache", action="store_true", help="build without Docker's layer cache")
    p.add_argument("--tags-file", type=Path, metavar="FILE",
                   help="where to write image -> tag (default dags/common/images.json)")


@command("images", "build the worker images under images/ and make them available to the target", _images_args)
def _images(args: argparse.Namespace, runner: Runner) -> None:
    from automation.images import TAGS_FILE, BuildOptions, images

    options = BuildOptions(base_image=args.base_image, ca_bundle=args.ca_bundle, installer=args.installer,
                           no_cache=args.no_cache)
    images(runner, _target(args), only=args.only, build_only=args.build_only, options=options,
           tags_file=args.tags_file or TAGS_FILE)


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
    from automation.task_runner import run_task

    return run_task(runner, _target(args), args.dag_id, args.task_id, dags=args.dags_dir, data=args.data_dir,
                    user=args.user, run_id=args.run_id, reparse=args.reparse)
