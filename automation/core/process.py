"""The one way this suite starts a process, built on the `sh` library.

A `Process` is one external command: run to the end with its output captured, attached to this terminal, or
left running in the background. It finds the binary (this checkout's pinned `.tools/bin` first), prints the
command (only prints it, in a dry run), streams the output line by line, prints a heartbeat while it runs,
stops it at its timeout, feeds its stdin from bytes chunks or a file, masks every registered secret in what it
prints and in its errors, and turns a missing binary, a timeout or a failure into one UserError line.

`sh` runs the child and its pipe threads (stdin fed from an iterator while stdout and stderr are read line by
line). The waiting is ours, on this thread: the timeout, the heartbeat, a failed stdin source and Ctrl-C are
all seen here, so each ends the process the same way wherever it is started from.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import sh

from automation.core.errors import UserError
from automation.core.masking import mask
from automation.core.paths import TOOLS_BIN

# Every exit code is a result here, a signal's (negative) included: failure is judged by `check`, never by sh.
_EVERY_CODE = list(range(-64, 256))
# How often the wait looks at the clock, the heartbeat and the stdin source (a finished process ends it at once).
_TICK = 0.1
TIMEOUT_FIX = "check that the cluster is reachable, then run the same command again"

Stdin = bytes | Path | IO[bytes] | Iterable[bytes]
LineSink = Callable[[str], None]


def which(binary: str) -> str | None:
    """The binary a command runs: this checkout's pinned copy (`.tools/bin`, installed by
    `python -m automation tools` after a sha256 check) before whatever PATH finds."""
    if os.sep not in binary:
        local = TOOLS_BIN / binary
        if local.is_file() and os.access(local, os.X_OK):
            return str(local)
    return shutil.which(binary)


@dataclass
class Result:
    cmd: list[str]
    exit_code: int
    stdout: str
    stderr: str
    seconds: float
    dry_run: bool = False
    stdin_bytes: int = 0  # what an iterator fed to stdin

    @property
    def ok(self) -> bool:
        return self.exit_code == 0


@dataclass
class Process:
    """One external command: what runs, fed with what, where, and for how long at most."""

    cmd: list[str]
    timeout: float | None = 600
    heartbeat: float | None = None  # seconds between "still running" lines (None: silent)
    stdin: Stdin | None = None
    cwd: str | Path | None = None
    env: Mapping[str, str] | None = None
    fix: str | None = None  # the advice a failure prints

    def __post_init__(self) -> None:
        self.cmd = [str(part) for part in self.cmd]

    @property
    def shown(self) -> str:
        return mask(shlex.join(self.cmd))

    # -- to the end, output captured --------------------------------------------------------------------------
    def run(self, out: IO[str], *, dry_run: bool = False, quiet: bool = False, echo: str | None = None,
            on_line: LineSink | None = None, check: bool = True) -> Result:
        """Run to the end and capture what it prints. `echo` is the indent its lines are printed with, masked, as
        they come (None: not printed); `on_line` sees each stdout line as it comes. A dry run prints the command
        and runs nothing. With `check`, a non-zero exit is a UserError (else see `check`)."""
        if dry_run:
            _say(out, f"    [dry-run] $ {self.shown}")
            return Result(self.cmd, 0, "", "", 0.0, dry_run=True)
        if not quiet:
            _say(out, f"    $ {self.shown}")
        stdout: list[str] = []
        stderr: list[str] = []

        def on_out(line: str) -> None:
            stdout.append(line)
            if on_line is not None:
                on_line(line)
            if echo is not None:
                _write(out, echo + mask(line))

        def on_err(line: str) -> None:
            stderr.append(line)
            if echo is not None:
                _write(out, echo + mask(line))

        with self._stdin() as (source, feed):
            t0 = time.monotonic()
            # A process group of its own: a timeout or Ctrl-C ends what the command started too (a shell's
            # children would otherwise keep its output open, and run on).
            code = self._wait(self._start(_out=on_out, _err=on_err, _in=source, _new_group=True), out, feed,
                              group=True)
        result = Result(self.cmd, code, "".join(stdout), "".join(stderr), time.monotonic() - t0,
                        stdin_bytes=feed.sent if feed else 0)
        if check:
            self.check(result)
        return result

    def check(self, result: Result) -> None:
        """A failed run as one line: the exit code and the last line it printed (its stderr's, else stdout's)."""
        if result.ok:
            return
        detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
        last = mask(detail[-1]) if detail else "no output"
        raise UserError(f"'{self.shown}' failed with exit code {result.exit_code}: {last}", self.fix)

    # -- attached to this terminal ----------------------------------------------------------------------------
    def attach(self, out: IO[str], err: IO[str], *, tty: bool = False) -> int:
        """Run with this process's stdin (a shell, a prompt, `logs -f`) and return the exit code, a signal's as
        the shell's 128+N. Without `tty`, stdout and stderr go to `out` and `err` as they come, masked; with it,
        the command owns the terminal and nothing it prints can be masked."""
        if tty:
            return self._foreground()
        code = self._wait(self._start(_out=lambda line: _write(out, mask(line)),
                                      _err=lambda line: _write(err, mask(line)), _in=0, _tty_out=False),
                          err, None, on_interrupt=signal.SIGINT, group=False)
        return 128 - code if code < 0 else code

    def _foreground(self) -> int:
        # sh's foreground mode: the child inherits this terminal as it is (stdin, stdout and stderr), which an
        # interactive shell needs, and sh then reports its exit code only through an exception.
        try:
            self._command()(*self.cmd[1:], _fg=True, **self._where())
        except sh.ErrorReturnCode as failed:
            return 128 - failed.exit_code if failed.exit_code < 0 else failed.exit_code
        return 0

    # -- in the background ------------------------------------------------------------------------------------
    def detach(self, log: Path) -> int:
        """Start it and leave it running: in a session of its own (it outlives this process, and stops as one
        process group), stdin closed, stdout and stderr appended to `log`. Its pid."""
        with open(log, "ab") as sink:
            running = self._start(_out=sink, _err_to_out=True, _in=None, _new_session=True)
        return int(running.pid)

    # -- the machinery ----------------------------------------------------------------------------------------
    def _command(self) -> sh.Command:
        binary = which(self.cmd[0])
        if binary is None:
            raise UserError(f"'{self.cmd[0]}' was not found on PATH",
                            self.fix or f"install {self.cmd[0]} (see README: Prerequisites)")
        return sh.Command(binary)

    def _where(self) -> dict[str, Any]:
        where: dict[str, Any] = {"_cwd": str(self.cwd) if self.cwd is not None else None}
        if self.env is not None:
            where["_env"] = dict(self.env)
        return where

    def _start(self, **io: Any) -> Any:
        """The child, started and not waited for (sh's background mode: its pipes are served by sh's threads)."""
        return self._command()(*self.cmd[1:], _bg=True, _bg_exc=False, _ok_code=_EVERY_CODE, _return_cmd=True,
                               **self._where(), **io)

    @contextlib.contextmanager
    def _stdin(self) -> Iterator[tuple[Any, _Feed | None]]:
        """What sh reads the child's stdin from: a file as it is (sh hands its descriptor over), an iterator of
        chunks through a `_Feed`."""
        if self.stdin is None:
            # Nothing to feed: an empty stdin, so the child reads its end at once. Left to sh (None), it gets a
            # pipe that sh's input thread holds open and polls every 0.1 s: every command took 0.1 s longer to be
            # seen ending, and one that reads stdin waited for its timeout.
            yield b"", None
        elif isinstance(self.stdin, bytes) or hasattr(self.stdin, "fileno"):
            yield self.stdin, None
        elif isinstance(self.stdin, Path):
            with open(self.stdin, "rb") as file:
                yield file, None
        else:
            feed = _Feed(self.stdin)  # type: ignore[arg-type]
            yield feed, feed

    def _wait(self, running: Any, out: IO[str], feed: _Feed | None, *,
              on_interrupt: signal.Signals = signal.SIGKILL, group: bool) -> int:
        """Wait for the end, printing the heartbeat; a timeout or a failed stdin source kills the child and raises.
        Ctrl-C sends it `on_interrupt`: SIGKILL, then re-raised (nothing left running behind us), or SIGINT, to
        end it its own way (`logs -f`) and keep waiting. With `group`, the signals go to its process group."""
        def send(sig: signal.Signals) -> None:
            with contextlib.suppress(OSError):  # it ended meanwhile
                if group:
                    running.signal_group(sig)
                else:
                    running.signal(sig)

        finished = threading.Event()

        def wait() -> None:
            try:
                running.wait()
            finally:
                finished.set()

        threading.Thread(target=wait, daemon=True).start()
        t0 = last_beat = time.monotonic()
        while True:
            try:
                if finished.wait(_TICK):
                    break
            except KeyboardInterrupt:
                send(on_interrupt)
                if on_interrupt == signal.SIGKILL:
                    raise
                continue
            now = time.monotonic()
            if feed is not None and feed.error is not None:
                send(signal.SIGKILL)
                finished.wait()
                break
            if self.timeout is not None and now - t0 > self.timeout:
                send(signal.SIGKILL)
                finished.wait()
                raise UserError(f"'{self.shown}' did not finish within {self.timeout:.0f}s", self.fix or TIMEOUT_FIX)
            if self.heartbeat and now - last_beat >= self.heartbeat:
                last_beat = now
                streamed = f", {feed.sent / 1e6:.0f} MB streamed" if feed is not None else ""
                _say(out, f"    ... still running ({now - t0:.0f}s{streamed})")
        if feed is not None and feed.error is not None:
            raise feed.error  # the source's own error (a UserError saying why), not the killed child's exit code
        return int(running.exit_code)


class _Feed:
    """The chunks of a stdin iterator as sh's thread takes them: counts what was sent, and keeps the source's
    failure for the waiting thread (raised on sh's thread, it would leave the child waiting for more input)."""

    def __init__(self, source: Iterable[bytes]):
        self._source = iter(source)
        self.sent = 0
        self.error: BaseException | None = None

    def __iter__(self) -> _Feed:
        return self

    def __next__(self) -> bytes:
        if self.error is not None:
            raise StopIteration
        try:
            chunk = next(self._source)
        except StopIteration:
            raise
        except BaseException as exc:  # handed to the waiting thread, raised there
            self.error = exc
            raise StopIteration from None
        self.sent += len(chunk)
        return chunk


def _say(out: IO[str], message: str) -> None:
    print(mask(message), file=out, flush=True)


def _write(out: IO[str], text: str) -> None:
    out.write(text)
    out.flush()
