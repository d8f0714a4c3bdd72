"""Next-step hints: a command the user can copy as is, on the same target with the same settings files."""

from __future__ import annotations

from collections.abc import Sequence


def nox_command(session: str, target: str, settings: Sequence[str] = (), *args: str) -> str:
    """`nox -s SESSION -- [ARGS] --target TARGET [--settings FILE ...]`."""
    words = "".join(f"{arg} " for arg in args)
    extra = "".join(f" --settings {path}" for path in settings)
    return f"nox -s {session} -- {words}--target {target}{extra}"
