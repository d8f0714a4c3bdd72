"""`python -m automation tools`: the pinned minikube, kubectl and helm, sha256-checked, into `.tools/bin`."""

from __future__ import annotations

import argparse
import os
import shlex

from automation.cli.registry import command
from automation.core.errors import UserError
from automation.core.runner import Runner


def _args(p: argparse.ArgumentParser) -> None:
    from automation.core.tools import PINNED_TOOLS

    p.add_argument("names", nargs="*", metavar="TOOL",
                   help=f"which to install (default: all of {', '.join(PINNED_TOOLS)})")
    p.add_argument("--mirror", default=os.environ.get("AUTOMATION_TOOLS_MIRROR") or None, metavar="URL",
                   help="fetch each release file from URL + its official path (an internal proxy of the release "
                        "hosts); default: the official hosts, or $AUTOMATION_TOOLS_MIRROR")


@command("tools", "install the pinned minikube, kubectl and helm into .tools/bin, each checked against the "
                  "sha256 pinned in automation/core/versions.py (a mismatch is refused)", _args)
def _tools(args: argparse.Namespace, runner: Runner) -> None:
    from automation.core.paths import TOOLS_BIN, rel
    from automation.core.tools import PINNED_TOOLS, install_pinned

    unknown = [name for name in args.names if name not in PINNED_TOOLS]
    if unknown:
        raise UserError(f"tools: unknown tool {unknown[0]!r}",
                        f"name any of {', '.join(PINNED_TOOLS)}, or none for all")
    names = tuple(dict.fromkeys(args.names)) or PINNED_TOOLS
    with runner.step(f"pinned tools into {rel(TOOLS_BIN)}: {', '.join(names)}"):
        install_pinned(runner, names, mirror=args.mirror)
    # The last line, alone: copied as is into a shell (or ~/.bashrc), from any folder.
    runner.say(f"tools: {rel(TOOLS_BIN)} is used before PATH by every command; for kubectl, helm and minikube in "
               "your shell, run:")
    runner.say(f"export PATH={shlex.quote(str(TOOLS_BIN))}:\"$PATH\"")
