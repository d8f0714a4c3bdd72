"""`automation completion SHELL`: a completion script for the installed `automation` command, made by shtab
from the argument parser itself, so that every command and option the parser knows completes and none other.

shtab writes a static script: a TAB costs no Python start (argcomplete would import the CLI on every TAB).
"""

from __future__ import annotations

import argparse

from automation.cli.registry import command
from automation.core.runner import Runner

SHELLS = ("bash", "zsh", "tcsh")  # what shtab writes


def _args(p: argparse.ArgumentParser) -> None:
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")


@command("completion", "print a shell completion script for the `automation` command: "
                       "eval \"$(automation completion bash)\" in ~/.bashrc (zsh, tcsh alike)", _args)
def _completion(args: argparse.Namespace, runner: Runner) -> None:
    import shtab

    from automation.cli.main import build_parser  # the parser being completed; main imports this module

    print(shtab.complete(build_parser(), shell=args.shell), end="")
