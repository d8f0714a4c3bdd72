"""`python -m automation dags`: the DAG integrity gate on its own (also step 8 of `up`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from automation.cli.args import positive_float
from automation.cli.registry import command
from automation.core.errors import UserError
from automation.core.runner import Runner


def _args(p: argparse.ArgumentParser) -> None:
    from automation.dags.gate import DAGS_FOLDER, MAX_PARSE_SECONDS

    p.add_argument("--max-seconds", type=positive_float, default=MAX_PARSE_SECONDS,
                   help=f"longest parse time allowed per DAG file (default {MAX_PARSE_SECONDS:g})")
    p.add_argument("--dags-folder", type=Path, default=DAGS_FOLDER, help="DAG folder (default: dags/)")


@command("dags", "DAG integrity gate: import errors, cycles, parse time", _args)
def _dags(args: argparse.Namespace, runner: Runner) -> None:
    from automation.dags import gate as dagcheck

    if not args.dags_folder.is_dir():
        raise UserError(f"--dags-folder {args.dags_folder} is not a folder", "give the folder holding the DAG files")
    with runner.step(f"DAG integrity ({args.dags_folder})"):
        dagcheck.gate(runner, args.dags_folder.resolve(), args.max_seconds)
    from automation.providers import PROVIDERS
    from automation.settings.files import load

    settings = load(args.settings)
    targets = [settings.target(name) for name in settings.names]
    composer = [t for t in targets if PROVIDERS[t.provider].composer_pod_rules]
    if composer:
        with runner.step(f"Composer 3 pod rules ({', '.join(t.name for t in composer)})"):
            dagcheck.composer_gate(runner, composer, args.dags_folder.resolve())
