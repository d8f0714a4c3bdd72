"""`Background`: a real process started in the background is found by its pid file, and `stop` ends it."""

from __future__ import annotations

import io
import os
import signal
import time
from contextlib import suppress
from pathlib import Path

from automation.core.background import Background
from automation.core.runner import Runner


def reap(pid: int, timeout: float = 10) -> bool:
    """Wait for our child `pid` to end (collecting it so it does not linger as a zombie); True once it has."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # already collected
            return True
        if done:
            return True
        time.sleep(0.05)
    return False


def test_start_pid_and_stop(tmp_path: Path) -> None:
    out = io.StringIO()
    runner = Runner(out=out)
    process = Background(tmp_path / "sleeper.pid")
    assert process.pid() is None
    process.start(runner, ["sleep", "30"], tmp_path / "sleeper.log")
    pid = process.pid()
    try:
        assert pid is not None and pid != os.getpid()
        assert (tmp_path / "sleeper.pid").read_text() == f"{pid} sleep 30\n"
        assert "$ sleep 30 &" in out.getvalue()
        assert process.stop(runner) is True
        assert reap(pid), "stop() left the process running"
        assert not (tmp_path / "sleeper.pid").exists()
        assert process.pid() is None
        assert process.stop(runner) is False  # nothing left to stop
    finally:
        if pid is not None:  # whatever failed above, leave no sleeper behind
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            reap(pid)


def test_pid_of_a_dead_or_garbled_pid_file_is_none(tmp_path: Path) -> None:
    pidfile = tmp_path / "gone.pid"
    pidfile.write_text("not-a-pid sleep 30\n")
    assert Background(pidfile).pid() is None
    pidfile.write_text("")
    assert Background(pidfile).pid() is None
    pidfile.write_text(f"{os.getpid()} pytest\n")  # a live process is found
    assert Background(pidfile).pid() == os.getpid()


def test_dry_run_start_prints_and_starts_nothing(tmp_path: Path) -> None:
    out = io.StringIO()
    runner = Runner(dry_run=True, out=out)
    process = Background(tmp_path / "sleeper.pid")
    process.start(runner, ["sleep", "30"], tmp_path / "sleeper.log")
    assert "[dry-run] $ sleep 30" in out.getvalue()
    assert runner.commands() == ["sleep 30"]
    assert not (tmp_path / "sleeper.pid").exists() and not (tmp_path / "sleeper.log").exists()
    assert process.pid() is None
