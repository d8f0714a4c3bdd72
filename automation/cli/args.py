"""Argument types and options every command shares."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from automation.core.errors import UserError
from automation.settings.files import load_target
from automation.settings.model import Target


def _positive(text: str, cast: Callable[[str], float], kind: str) -> float:
    try:
        value = cast(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value:g}")
    return value


def positive_int(text: str) -> int:
    return int(_positive(text, int, "a whole number"))


def positive_float(text: str) -> float:
    return _positive(text, float, "a number")


def port_number(text: str) -> int:
    value = positive_int(text)
    if not 1024 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port between 1024 and 65535, got {value}")
    return value


SERVER_FLAG = "--server-dry-run"  # what `--dry-run=server` is read as (see `dry_run_modes`)


def dry_run_modes(argv: Sequence[str]) -> list[str]:
    """`--dry-run=client|server` as kubectl spells it, before argparse: an optional value on --dry-run would swallow
    a command's positional argument (`logs --dry-run scheduler`). Arguments after `--` are the command's own."""
    out: list[str] = []
    for index, arg in enumerate(argv):
        if arg == "--":
            return out + list(argv[index:])
        if arg.startswith("--dry-run="):
            mode = arg.split("=", 1)[1]
            if mode not in ("client", "server"):
                raise UserError(f"--dry-run={mode}: expected --dry-run, --dry-run=client or --dry-run=server",
                                "--dry-run=server sends every Kubernetes object to the API server as a dry run")
            out += ["--dry-run", SERVER_FLAG] if mode == "server" else ["--dry-run"]
        else:
            out.append(arg)
    return out


def common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", default="local", help="target from targets.yaml (default: local)")
    parser.add_argument("--settings", action="append", default=[], metavar="FILE",
                        help="extra settings file merged over targets.yaml (repeatable)")
    parser.add_argument("--dry-run", action="store_true",
                        help="print what would run; change nothing. --dry-run=server: besides, every Kubernetes "
                             "object and the Helm release go to the cluster's API server as a dry run (schema, "
                             "defaults, admission), still changing nothing")
    parser.add_argument(SERVER_FLAG, action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("-v", "--verbose", action="store_true")


def target_of(args: argparse.Namespace) -> Target:
    return load_target(args.target, args.settings, cpus=getattr(args, "cpus", None),
                       memory_mb=getattr(args, "memory", None))


def up_options(args: argparse.Namespace) -> Any:
    from automation.providers.base import UpOptions

    return UpOptions(values=getattr(args, "values", []) or [], port=getattr(args, "port", None),
                     skip_dags_check=getattr(args, "skip_dags_check", False),
                     no_wait=getattr(args, "no_wait", False), cloud_only=getattr(args, "cloud_only", False),
                     purge=getattr(args, "purge", False),
                     yes=getattr(args, "yes", False), out=getattr(args, "out", None))
