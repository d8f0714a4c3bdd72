"""`python -m automation COMMAND [--target NAME] [--dry-run[=server]] ...`: what every nox session calls.

Bad input and failed steps end with one `error: ... -- fix` line and exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from automation.cli import completion, dags, day2, doctor, e2e, images, lifecycle, task, tools, upgrade
from automation.cli.args import common, dry_run_modes
from automation.cli.registry import HANDLERS, SPECS
from automation.core import package
from automation.core.errors import UserError
from automation.core.runner import Runner, mask

# Each module registers its commands when imported; the order is the order of `--help`.
COMMAND_MODULES = (lifecycle, images, task, e2e, dags, upgrade, tools, day2, doctor, completion)


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse's usage dump is not one line: keep the contract.
        raise UserError(f"{self.prog}: {message}", f"see `{self.prog} --help`")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="automation", description=__doc__)
    version = f"automation {package.version()}"
    parser.add_argument("--version", action="version", version=version)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, help_text, setup in SPECS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        common(p)
        # Also after a command: every nox session passes its arguments to one (`nox -s status -- --version`).
        p.add_argument("--version", action="version", version=version, help=argparse.SUPPRESS)
        if setup:
            setup(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    runner = Runner()
    try:
        args = build_parser().parse_args(dry_run_modes(sys.argv[1:] if argv is None else argv))
        runner = Runner(dry_run=args.dry_run, verbose=args.verbose, server_dry_run=args.server_dry_run)
        code = HANDLERS[args.command](args, runner)
        return int(code or 0)
    except UserError as exc:
        print(mask(exc.line()), file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # Whoever read the output stopped (`logs ... | head`): not a failure; say nothing more to the closed pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("error: interrupted -- run the same command again: every step is safe to repeat", file=sys.stderr)
        return 130
    except Exception as exc:
        from automation.k8s.cluster import lost_connection

        lost = lost_connection(exc)
        if lost is not None:
            print(mask(f"error: {lost} -- check the cluster (nox -s status), then run the same command again: "
                       "what was made so far is kept and the next run goes on from there"), file=sys.stderr)
            return 2
        if runner.verbose:
            raise
        print(mask(f"error: unexpected {type(exc).__name__}: {exc} -- rerun with -v for the full trace, "
                   "and report it"), file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
