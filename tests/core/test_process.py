"""The process primitive, on real small processes: streamed lines, the heartbeat, the timeout, masking, stdin
from chunks or a file, the dry run, background processes and one-line failures."""

from __future__ import annotations

import io
import os
import secrets
import signal
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.core.masking import MASK, register_secret
from automation.core.process import Process


def test_lines_stream_as_they_come_and_are_captured() -> None:
    out = io.StringIO()
    seen: list[tuple[str, float]] = []
    t0 = time.monotonic()
    result = Process(["sh", "-c", "echo one; sleep 0.5; echo two; echo err >&2"]).run(
        out, echo="  ", on_line=lambda line: seen.append((line, time.monotonic() - t0)))
    assert [line for line, _ in seen] == ["one\n", "two\n"]
    assert seen[0][1] < 0.4 < seen[1][1]  # the first line came before the command ended
    assert result.ok and result.stdout == "one\ntwo\n" and result.stderr == "err\n"
    assert out.getvalue().splitlines() == ["    $ sh -c 'echo one; sleep 0.5; echo two; echo err >&2'",
                                           "  one", "  two", "  err"]


def test_a_command_given_no_stdin_reads_its_end_at_once() -> None:
    # `cat` ends when its stdin does: without stdin it ends at once instead of waiting for its timeout.
    result = Process(["cat"], timeout=5).run(io.StringIO(), quiet=True)
    assert result.ok and result.stdout == ""


def test_heartbeat_while_running() -> None:
    out = io.StringIO()
    Process(["sleep", "0.7"], heartbeat=0.25).run(out, quiet=True)
    beats = [line for line in out.getvalue().splitlines() if "still running" in line]
    assert 2 <= len(beats) <= 3 and beats[0] == "    ... still running (0s)"


def test_timeout_kills_it_and_says_so_in_one_line(tmp_path: Path) -> None:
    marker = tmp_path / "late"
    t0 = time.monotonic()
    with pytest.raises(UserError) as info:
        Process(["sh", "-c", f"sleep 3; touch {marker}"], timeout=0.5).run(io.StringIO())
    assert time.monotonic() - t0 < 2
    assert info.value.line() == (f"error: 'sh -c 'sleep 3; touch {marker}'' did not finish within 0s -- "
                                 "check that the cluster is reachable, then run the same command again")
    time.sleep(3)
    assert not marker.exists(), "the timed-out process kept running"


def test_failure_is_one_line_with_the_last_line_and_the_fix() -> None:
    with pytest.raises(UserError) as info:
        Process(["sh", "-c", "echo first >&2; echo 'the real reason' >&2; exit 3"], fix="do this").run(io.StringIO())
    assert info.value.line() == ("error: 'sh -c 'echo first >&2; echo '\"'\"'the real reason'\"'\"' >&2; exit 3'' "
                                 "failed with exit code 3: the real reason -- do this")
    unchecked = Process(["sh", "-c", "exit 4"]).run(io.StringIO(), check=False)
    assert unchecked.exit_code == 4 and not unchecked.ok


def test_missing_binary() -> None:
    with pytest.raises(UserError, match="'no-such-tool-xyz' was not found on PATH -- install no-such-tool-xyz"):
        Process(["no-such-tool-xyz"]).run(io.StringIO())


def test_secrets_are_masked_in_the_command_the_output_and_the_error() -> None:
    value = secrets.token_hex(12)
    register_secret(value)
    out = io.StringIO()
    with pytest.raises(UserError) as info:
        Process(["sh", "-c", f"echo token={value}; echo bad {value} >&2; exit 1", value]).run(out, echo="")
    assert value not in out.getvalue() and value not in info.value.line()
    assert f"token={MASK}" in out.getvalue() and info.value.line().endswith(f"bad {MASK}")


def test_stdin_from_chunks_and_from_a_file(tmp_path: Path) -> None:
    def chunks() -> Iterator[bytes]:
        for n in range(200):
            yield bytes([n % 256]) * 65536  # more than a pipe holds: fed while the output is read

    result = Process(["sh", "-c", "wc -c; echo done >&2"], stdin=chunks()).run(io.StringIO())
    assert result.stdout.strip() == str(200 * 65536) and result.stdin_bytes == 200 * 65536
    data = tmp_path / "in.txt"
    data.write_bytes(b"from a file\n")
    assert Process(["cat"], stdin=data).run(io.StringIO()).stdout == "from a file\n"
    with open(data, "rb") as file:
        assert Process(["cat"], stdin=file).run(io.StringIO()).stdout == "from a file\n"


def test_a_failing_stdin_source_ends_the_process_with_its_own_error() -> None:
    def broken() -> Iterator[bytes]:
        yield b"part\n"
        raise UserError("the source broke", "fix the source")

    t0 = time.monotonic()
    with pytest.raises(UserError, match="the source broke"):
        Process(["sh", "-c", "cat >/dev/null; sleep 30"], stdin=broken()).run(io.StringIO())
    assert time.monotonic() - t0 < 5


def test_heartbeat_counts_what_was_streamed() -> None:
    def slow() -> Iterator[bytes]:
        for _ in range(4):
            yield b"x" * 1_000_000
            time.sleep(0.2)

    out = io.StringIO()
    Process(["sh", "-c", "cat >/dev/null"], stdin=slow(), heartbeat=0.3).run(out, quiet=True)
    assert "MB streamed)" in out.getvalue()


def test_dry_run_prints_and_runs_nothing(tmp_path: Path) -> None:
    out = io.StringIO()
    marker = tmp_path / "made"
    result = Process(["touch", str(marker)]).run(out, dry_run=True)
    assert result.dry_run and result.ok and not marker.exists()
    assert out.getvalue() == f"    [dry-run] $ touch {marker}\n"


def test_cwd_and_env(tmp_path: Path) -> None:
    result = Process(["sh", "-c", "pwd; echo $GREETING"], cwd=tmp_path, env={"GREETING": "hi", "PATH": os.defpath})
    assert result.run(io.StringIO()).stdout.split() == [str(tmp_path.resolve()), "hi"]


def test_attach_returns_the_exit_code_and_masks_output() -> None:
    value = secrets.token_hex(12)
    register_secret(value)
    out, err = io.StringIO(), io.StringIO()
    assert Process(["sh", "-c", f"echo {value}; echo e >&2; exit 5"]).attach(out, err) == 5
    assert out.getvalue() == f"{MASK}\n" and err.getvalue() == "e\n"
    assert Process(["sh", "-c", "kill -TERM $$"]).attach(out, err) == 128 + signal.SIGTERM


def test_attach_with_a_tty_inherits_this_terminal_and_returns_the_exit_code() -> None:
    out, err = io.StringIO(), io.StringIO()
    assert Process(["sh", "-c", "exit 6"]).attach(out, err, tty=True) == 6
    assert Process(["true"]).attach(out, err, tty=True) == 0
    assert out.getvalue() == err.getvalue() == ""  # its output went to the terminal, not through us


def test_detach_leaves_it_running_in_its_own_session(tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    pid = Process(["sh", "-c", "echo started; exec sleep 30"]).detach(log)
    try:
        assert os.getsid(pid) == pid
        deadline = time.monotonic() + 5
        while "started" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert log.read_text() == "started\n"
    finally:
        with suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
