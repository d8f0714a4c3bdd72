"""The one place every external command goes through (minikube, kubectl, helm, docker, gcloud, ...).

It prints each command before running it (or instead of running it, with --dry-run), masks every registered
secret in all it prints, times each step, streams output, and turns a missing binary, a timeout or a failure
into a single UserError line.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

import sh

from automation.core.errors import UserError
from automation.core.paths import TOOLS_BIN

# Values that must never appear in anything printed: registered as soon as they are read or generated.
_SECRETS: set[str] = set()
MASK = "******"


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        _SECRETS.add(value)


def mask(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


@dataclass
class Result:
    cmd: list[str]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class Runner:
    dry_run: bool = False
    verbose: bool = False
    out: IO[str] = field(default_factory=lambda: sys.stdout)
    err: IO[str] = field(default_factory=lambda: sys.stderr)
    # What ran (or would have run), in order: the dry-run plan, and the timing record of a real run.
    history: list[Result] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

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
    @staticmethod
    def which(binary: str) -> str | None:
        """The binary a command runs: this checkout's pinned copy (`.tools/bin`, installed by
        `python -m automation tools` after a sha256 check) before whatever PATH finds."""
        if os.sep not in binary:
            local = TOOLS_BIN / binary
            if local.is_file() and os.access(local, os.X_OK):
                return str(local)
        return shutil.which(binary)

    def run(
        self,
        cmd: Sequence[str],
        *,
        mutates: bool = True,
        stdin: str | bytes | None = None,
        timeout: float | None = 600,
        check: bool = True,
        stream: bool = False,
        quiet: bool = False,
        fix: str | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        heartbeat: float | None = None,
        on_line: Callable[[str], None] | None = None,
    ) -> Result:
        """Run `cmd`. With dry_run, a command that changes state is printed and not run; reads still run.

        `fix` is the advice printed when the command fails; `on_line` sees each output line as it comes (to time
        the phases of a long command).
        """
        cmd = [str(c) for c in cmd]
        shown = mask(shlex.join(cmd))
        if self.dry_run and mutates:
            self.say(f"    [dry-run] $ {shown}")
            result = Result(cmd, 0, "", "", 0.0, dry_run=True)
            self.history.append(result)
            return result
        if not quiet:
            self.say(f"    $ {shown}")
        binary = self.which(cmd[0])
        if binary is None:
            raise UserError(f"'{cmd[0]}' was not found on PATH", fix or f"install {cmd[0]} (see README: Prerequisites)")
        t0 = time.monotonic()
        out_chunks: list[str] = []
        err_chunks: list[str] = []

        def on_out(line: str) -> None:
            out_chunks.append(line)
            if on_line is not None:
                on_line(line)
            if stream:
                self.out.write("      " + mask(line))
                self.out.flush()

        def on_err(line: str) -> None:
            err_chunks.append(line)
            if stream:
                self.out.write("      " + mask(line))
                self.out.flush()

        done = threading.Event()
        if heartbeat:
            def beat() -> None:
                while not done.wait(heartbeat):
                    self.say(f"    ... still running ({time.monotonic() - t0:.0f}s)")

            threading.Thread(target=beat, daemon=True).start()
        try:
            command = sh.Command(binary)
            kwargs: dict[str, object] = {
                "_out": on_out,
                "_err": on_err,
                "_in": stdin,
                "_ok_code": list(range(256)),
                "_timeout": timeout,
                "_cwd": cwd,
                "_return_cmd": True,
            }
            if env is not None:
                kwargs["_env"] = env
            proc = command(*cmd[1:], **kwargs)  # type: ignore[call-overload]
            code = proc.exit_code
        except sh.TimeoutException:
            raise UserError(
                f"'{shown}' did not finish within {timeout:.0f}s",
                fix or "check that the cluster is reachable, then run the same command again",
            ) from None
        except sh.CommandNotFound:
            raise UserError(f"'{cmd[0]}' was not found on PATH", fix or f"install {cmd[0]}") from None
        finally:
            done.set()
        result = Result(cmd, code, "".join(out_chunks), "".join(err_chunks), time.monotonic() - t0)
        self.history.append(result)
        if check and code != 0:
            detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
            last = mask(detail[-1]) if detail else "no output"
            raise UserError(f"'{shown}' failed with exit code {code}: {last}", fix)
        return result

    def attached(self, cmd: Sequence[str], *, tty: bool = False) -> int:
        """Run `cmd` with this terminal's stdin and return its exit code (a shell, a prompt, `logs -f`).

        With `tty` the command owns the terminal (an interactive shell): its output cannot be masked. Otherwise
        stdout and stderr stream as they come, line by line, masked and not indented, so they can be piped. The
        command line goes to `err`, keeping `out` the command's own. With dry_run it is printed, not run.
        """
        cmd = [str(c) for c in cmd]
        shown = mask(shlex.join(cmd))
        if self.dry_run:
            self.say(f"    [dry-run] $ {shown}")
            self.history.append(Result(cmd, 0, "", "", 0.0, dry_run=True))
            return 0
        binary = self.which(cmd[0])
        if binary is None:
            raise UserError(f"'{cmd[0]}' was not found on PATH", f"install {cmd[0]} (see README: Prerequisites)")
        print(f"    $ {shown}", file=self.err, flush=True)
        t0 = time.monotonic()
        pipe = None if tty else subprocess.PIPE
        proc = subprocess.Popen([binary, *cmd[1:]], stdout=pipe, stderr=pipe, text=True, errors="replace")
        pumps = [] if tty else [threading.Thread(target=_pump, args=(src, dst), daemon=True)
                                for src, dst in ((proc.stdout, self.out), (proc.stderr, self.err))]
        for pump in pumps:
            pump.start()
        try:
            code = proc.wait()
        except KeyboardInterrupt:
            # Ctrl-C ends the command (`logs -f`) in its own way; a terminal sends it the signal too, a parent
            # process that signals only us does not: pass it on.
            proc.send_signal(signal.SIGINT)
            code = proc.wait()
        for pump in pumps:
            pump.join()
        code = 128 - code if code < 0 else code  # killed by signal N: the shell's 128+N
        self.history.append(Result(cmd, code, "", "", time.monotonic() - t0))
        return code

    def read(self, cmd: Sequence[str], **kwargs: object) -> Result:
        """A command that only reads state: runs in dry-run too, prints nothing unless verbose."""
        return self.run(cmd, mutates=False, quiet=not self.verbose, **kwargs)  # type: ignore[arg-type]

    def try_read(self, cmd: Sequence[str], **kwargs: object) -> Result | None:
        """Like read, but a missing binary or a failure gives None (state that cannot be read)."""
        if self.which(str(cmd[0])) is None:
            return None
        try:
            result = self.read(cmd, check=False, **kwargs)
        except UserError:
            return None
        return result if result.ok else None

    def commands(self) -> list[str]:
        """The commands of this run so far, masked, one string each (the dry-run plan)."""
        return [mask(shlex.join(r.cmd)) if len(r.cmd) > 1 else mask(r.cmd[0]) for r in self.history]


def _pump(source: IO[str] | None, sink: IO[str]) -> None:
    for line in source or ():
        sink.write(mask(line))
        sink.flush()
