"""Lifecycle commands: up, down, status, render, rotate-fernet-key, versions."""

from __future__ import annotations

import argparse
import json

from automation.cli.args import port_number, positive_int, target_of, up_options
from automation.cli.registry import command
from automation.core.runner import Runner


def _up_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cpus", type=positive_int, help="Minikube CPUs (default: targets.yaml, 4)")
    p.add_argument("--memory", type=positive_int, help="Minikube memory in MB (default: targets.yaml, 6144)")
    p.add_argument("--port", type=port_number, help="local UI port (default 8090, or the next free one)")
    p.add_argument("--values", action="append", default=[], metavar="FILE", help="extra Helm values file")
    p.add_argument("--skip-dags-check", action="store_true", help="deploy without the DAG integrity gate")
    p.add_argument("--no-wait", action="store_true", help="do not wait for the pods nor open the UI")
    p.add_argument("--cloud-only", action="store_true",
                   help="gke: make the Google Cloud side only (buckets, service account, bindings, registry)")


@command("up", "start or update the target's Airflow (idempotent)", _up_args)
def _up(args: argparse.Namespace, runner: Runner) -> None:
    from automation.lifecycle.up import up

    up(runner, target_of(args), up_options(args))


def _down_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--purge", action="store_true", help="delete everything: namespace, volumes, secrets")
    p.add_argument("--yes", action="store_true", help="do not ask before --purge")


@command("down", "stop the target, keeping data, logs and secrets", _down_args)
def _down(args: argparse.Namespace, runner: Runner) -> None:
    from automation.lifecycle.down import down

    down(runner, target_of(args), up_options(args))


@command("status", "one table: cluster, mounts, volumes, secrets, release, pods, UI",
         lambda p: p.add_argument("--json", action="store_true"))
def _status(args: argparse.Namespace, runner: Runner) -> None:
    from automation.lifecycle.status import status

    status(runner, target_of(args), as_json=args.json)


def _render_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="output folder (default render/TARGET)")
    p.add_argument("--values", action="append", default=[], metavar="FILE", help="extra Helm values file")


@command("render", "write every manifest and the merged Helm values; touch nothing", _render_args)
def _render(args: argparse.Namespace, runner: Runner) -> None:
    from automation.lifecycle.render import render

    render(runner, target_of(args), up_options(args))


@command("rotate-fernet-key", "rotate the Fernet key the documented way (NEW,OLD then NEW)",
         lambda p: p.add_argument("--finish", action="store_true", help="drop the old key"))
def _rotate(args: argparse.Namespace, runner: Runner) -> None:
    from automation.lifecycle.rotate import rotate_fernet_key

    rotate_fernet_key(runner, target_of(args), args.finish)


@command("versions", "print the pinned versions as JSON")
def _versions(args: argparse.Namespace, runner: Runner) -> None:
    from automation.core.versions import as_dict

    runner.say(json.dumps(as_dict(), indent=2))
