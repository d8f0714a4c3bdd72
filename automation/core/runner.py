"""The one place every external command goes through (minikube, kubectl, helm, docker, gcloud, ...).

It runs each as a `Process` (automation.core.process: printed, or only printed with --dry-run, masked, streamed,
timed out, one UserError line on failure) and adds what a whole run needs: the steps and their timing, the
record of what ran (the dry-run plan), and reads that still run in a dry run.
"""

from __future__ import annotations

import shlex
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypedDict, Unpack

from automation.core.errors import UserError
from automation.core.masking import MASK, mask, register_secret
from automation.core.process import Process, Result, Stdin, which

# Re-exported: every layer masks, registers secrets and reads results through the runner.
__all__ = ["MASK", "Result", "Runner", "mask", "register_secret"]


class ProcessOptions(TypedDict, total=False):
    """How a command runs, as `Process` takes it: the runner adds how it is shown."""

    timeout: float | None
    heartbeat: float | None
    stdin: Stdin | None
    cwd: str | Path | None
    env: Mapping[str, str] | None
    fix: str | None


@dataclass
class Runner:
    dry_run: bool = False
    verbose: bool = False
    # --dry-run=server: still nothing changed, but Kubernetes objects and Helm releases are sent to the API server
    # as dry runs (the k8s layer asks); implies dry_run.
    server_dry_run: bool = False
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    err: IO[str] = field(default_factory=lambda: sys.stderr)
    # What ran (or would have run), in order: the dry-run plan, and the timing record of a real run.
    history: list[Result] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.dry_run = self.dry_run or self.server_dry_run

    # -- printing ---------------------------------------------------------------------------------------------
    def say(self, message: str) -> None:
        print(mask(message), file=self.out, flush=True)

    def elapsed(self) -> str:
        return f"{time.monotonic() - self.started:5.1f}s"

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """A named step of a long operation: shows what runs, and how long it took."""
        self.say(f"==> [{self.elapsed()}] {title}")
        t0 = time.monotonic()
        yield
        if self.verbose:
            self.say(f"    done in {time.monotonic() - t0:.1f}s")

    def ok(self, message: str) -> None:
        self.say(f"    ok: {message}")

    def plan(self, action: str) -> None:
        """An action done through an API rather than a command (for example a server-side apply)."""
        self.say(f"    {'[dry-run] ' if self.dry_run else ''}{action}")
        if self.dry_run:
            self.history.append(Result([action], 0, "", "", 0.0, dry_run=True))

    # -- running ----------------------------------------------------------------------------------------------
    which = staticmethod(which)

    def run(self, cmd: Sequence[str], *, mutates: bool = True, check: bool = True, stream: bool = False,
            on_line: Callable[[str], None] | None = None, quiet: bool = False,
            **options: Unpack[ProcessOptions]) -> Result:
        """Run `cmd` (a `Process`, with `options`). With dry_run, a command that changes state is printed and not
        run; reads still run. `stream` prints its output as it comes; `on_line` sees each output line (to time
        the phases of a long command); `quiet` leaves the command line unprinted."""
        options.setdefault("timeout", 600)
        process = Process(list(cmd), **options)
        result = process.run(self.out, dry_run=self.dry_run and mutates, quiet=quiet,
                             echo="      " if stream else None, on_line=on_line, check=False)
        self.history.append(result)
        if check:
            process.check(result)
        return result

    def attached(self, cmd: Sequence[str], *, tty: bool = False) -> int:
        """Run `cmd` with this terminal's stdin and return its exit code (a shell, a prompt, `logs -f`).

        With `tty` the command owns the terminal (an interactive shell): its output cannot be masked. Otherwise
        stdout and stderr stream as they come, line by line, masked and not indented, so they can be piped. The
        command line goes to `err`, keeping `out` the command's own. With dry_run it is printed, not run.
        """
        process = Process(list(cmd), timeout=None)
        if self.dry_run:
            self.history.append(process.run(self.out, dry_run=True))
            return 0
        if self.which(process.cmd[0]) is None:
            raise UserError(f"'{process.cmd[0]}' was not found on PATH",
                            f"install {process.cmd[0]} (see README: Prerequisites)")
        print(f"    $ {process.shown}", file=self.err, flush=True)
        t0 = time.monotonic()
        code = process.attach(self.out, self.err, tty=tty)
        self.history.append(Result(process.cmd, code, "", "", time.monotonic() - t0))
        return code

    def read(self, cmd: Sequence[str], *, check: bool = True, **options: Unpack[ProcessOptions]) -> Result:
        """A command that only reads state: runs in dry-run too, prints nothing unless verbose."""
        return self.run(cmd, mutates=False, quiet=not self.verbose, check=check, **options)

    def try_read(self, cmd: Sequence[str], **options: Unpack[ProcessOptions]) -> Result | None:
        """Like read, but a missing binary or a failure gives None (state that cannot be read)."""
        if self.which(str(cmd[0])) is None:
            return None
        try:
            result = self.read(cmd, check=False, **options)
        except UserError:
            return None
        return result if result.ok else None

    def commands(self) -> list[str]:
        """The commands of this run so far, masked, one string each (the dry-run plan)."""
        return [mask(shlex.join(r.cmd)) if len(r.cmd) > 1 else mask(r.cmd[0]) for r in self.history]

