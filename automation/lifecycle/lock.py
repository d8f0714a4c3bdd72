"""One `up`/`down` per target at a time."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from automation.core.errors import UserError
from automation.core.paths import state_dir
from automation.settings.model import Target


@contextmanager
def exclusive(target: Target, action: str) -> Iterator[None]:
    """Held for the whole block; the lock goes with the process, even when it is killed."""
    path = state_dir(target.name) / "lifecycle.lock"
    handle = open(path, "a+")  # noqa: SIM115 - held for the whole block, closed in finally
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise UserError(f"another command is already changing target {target.name!r} ({holder})",
                        "wait for it to finish, or stop it, then run this again") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{action} pid {os.getpid()}")
    handle.flush()
    try:
        yield
    finally:
        handle.truncate(0)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()
