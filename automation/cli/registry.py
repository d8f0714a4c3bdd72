"""The command registry: each module of `cli/` declares its commands with `@command`; `cli.main` parses."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from automation.core.runner import Runner

Handler = Callable[[argparse.Namespace, Runner], int | None]
Setup = Callable[[argparse.ArgumentParser], object]
HANDLERS: dict[str, Handler] = {}
SPECS: list[tuple[str, str, Setup | None]] = []


def command(name: str, help_text: str, setup: Setup | None = None) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS[name] = handler
        SPECS.append((name, help_text, setup))
        return handler

    return register
