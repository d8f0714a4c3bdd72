"""`python -m automation COMMAND [--target NAME] [--dry-run] ...`: what every nox session calls.

Bad input and failed steps end with one `error: ... -- fix` line and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from automation.errors import UserError
from automation.runner import Runner, mask

Handler = Callable[[argparse.Namespace, Runner], int | None]
HANDLERS: dict[str, Handler] = {}


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


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's usage dump is not one line: keep the contract.
        raise UserError(f"{self.prog}: {message}", f"see `{self.prog} --help`")


def common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--target", default="local", help="target from targets.yaml (default: local)")
    parser.add_argument("--settings", action="append", default=[], metavar="FILE",
                        help="extra settings file merged over targets.yaml (repeatable)")
    parser.add_argument("--dry-run", action="store_true", help="print what would run; change nothing")
    parser.add_argument("-v", "--verbose", action="store_true")


def command(name: str, help_text: str, setup: Callable[[argparse.ArgumentParser], object] | None = None
            ) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        SPECS.append((name, help_text, setup))
        return handler

    return register


SPECS: list[tuple[str, str, Callable[[argparse.ArgumentParser], object] | None]] = []


def _target(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from automation.settings import load_target

    return load_target(args.target, args.settings, cpus=getattr(args, "cpus", None),
                       memory_mb=getattr(args, "memory", None))


def _options(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from automation.lifecycle import Options

    return Options(values=getattr(args, "values", []) or [], port=getattr(args, "port", None),
                   skip_dags_check=getattr(args, "skip_dags_check", False), no_wait=getattr(args, "no_wait", False),
                   purge=getattr(args, "purge", False), yes=getattr(args, "yes", False), out=getattr(args, "out", None))


def _up_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cpus", type=positive_int, help="Minikube CPUs (default from targets.yaml: 6)")
    p.add_argument("--memory", type=positive_int, help="Minikube memory in MB (default 8192)")
    p.add_argument("--port", type=port_number, help="local UI port (default 8090, or the next free one)")
    p.add_argument("--values", action="append", default=[], metavar="FILE", help="extra Helm values file")
    p.add_argument("--skip-dags-check", action="store_true", help="deploy without the DAG integrity gate")
    p.add_argument("--no-wait", action="store_true", help="do not wait for the pods nor open the UI")


@command("up", "start or update the target's Airflow (idempotent)", _up_args)
def _up(args: argparse.Namespace, runner: Runner) -> None:
    from automation.lifecycle import up

    up(runner, _target(args), _options(args))


def _down_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--purge", action="store_true", help="delete everything: namespace, volumes, secrets")
    p.add_argument("--yes", action="store_true", help="do not ask before --purge")


@command("down", "stop the target, keeping data, logs and secrets", _down_args)
def _down(args: argparse.Namespace, runner: Runner) -> None:
    from automation.lifecycle import down

    down(runner, _target(args), _options(args))


@command("status", "one table: cluster, mounts, volumes, secrets, release, pods, UI",
         lambda p: p.add_argument("--json", action="store_true"))
def _status(args: argparse.Namespace, runner: Runner) -> None:
    from automation.lifecycle import status

    status(runner, _target(args), as_json=args.json)


def _render_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="output folder (default render/TARGET)")
    p.add_argument("--values", action="append", default=[], metavar="FILE", help="extra Helm values file")


@command("render", "write every manifest and the merged Helm values; touch nothing", _render_args)
def _render(args: argparse.Namespace, runner: Runner) -> None:
    from automation.lifecycle import render

    render(runner, _target(args), _options(args))


@command("rotate-fernet-key", "rotate the Fernet key the documented way (NEW,OLD then NEW)",
         lambda p: p.add_argument("--finish", action="store_true", help="drop the old key"))
def _rotate(args: argparse.Namespace, runner: Runner) -> None:
    from automation.lifecycle import rotate_fernet_key

    rotate_fernet_key(runner, _target(args), args.finish)


@command("versions", "print the pinned versions as JSON")
def _versions(args: argparse.Namespace, runner: Runner) -> None:
    from automation.versions import as_dict

    runner.say(json.dumps(as_dict(), indent=2))


def build_parser() -> argparse.ArgumentParser:
    _load_plugins()
    parser = Parser(prog="automation", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, help_text, setup in SPECS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        common(p)
        if setup:
            setup(p)
    return parser


# Command modules outside this file register themselves with @command when imported.
PLUGINS = ("automation.images_cli", "automation.e2e_cli", "automation.dags_cli")


def _load_plugins() -> None:
    import importlib

    for name in PLUGINS:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def main(argv: Sequence[str] | None = None) -> int:
    runner = Runner()
    try:
        args = build_parser().parse_args(argv)
        runner = Runner(dry_run=args.dry_run, verbose=args.verbose)
        code = HANDLERS[args.command](args, runner)
        return int(code or 0)
    except UserError as exc:
        print(mask(exc.line()), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted -- run the same command again: every step is safe to repeat", file=sys.stderr)
        return 130
    except Exception as exc:
        if runner.verbose:
            raise
        print(mask(f"error: unexpected {type(exc).__name__}: {exc} -- rerun with -v for the full trace, "
                   "and report it"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
