"""The one command runner: dry-run, masking, timing, and one-line failures."""

from __future__ import annotations

import io
import secrets
import subprocess
import sys

import pytest

from automation.core.errors import UserError
from automation.core.runner import MASK, Runner, mask, register_secret
from tests.conftest import REPO


def test_dry_run_prints_and_runs_nothing(tmp_path) -> None:
    out = io.StringIO()
    marker = tmp_path / "made"
    runner = Runner(dry_run=True, out=out)
    runner.run(["touch", str(marker)])
    assert not marker.exists()
    assert f"[dry-run] $ touch {marker}" in out.getvalue()
    assert runner.commands() == [f"touch {marker}"]


def test_reads_still_run_in_dry_run() -> None:
    runner = Runner(dry_run=True, out=io.StringIO())
    assert runner.read(["echo", "hello"]).stdout.strip() == "hello"


def test_secrets_are_masked_everywhere() -> None:
    value = secrets.token_hex(12)
    register_secret(value)
    out = io.StringIO()
    runner = Runner(dry_run=True, out=out)
    runner.run(["kubectl", "create", "secret", f"--from-literal=k={value}"])
    assert value not in out.getvalue()
    assert value not in " ".join(runner.commands())
    assert mask(f"x{value}y") == "x******y"


def test_failure_is_one_line_with_the_last_error_and_the_fix() -> None:
    runner = Runner(out=io.StringIO())
    with pytest.raises(UserError) as info:
        runner.run(["sh", "-c", "echo first >&2; echo 'the real reason' >&2; exit 3"], fix="do this")
    line = info.value.line()
    assert "exit code 3" in line and "the real reason" in line and line.endswith("-- do this")


def test_missing_binary_and_timeout() -> None:
    runner = Runner(out=io.StringIO())
    with pytest.raises(UserError, match="'no-such-tool-xyz' was not found on PATH"):
        runner.run(["no-such-tool-xyz"])
    with pytest.raises(UserError, match="did not finish within 1s"):
        runner.run(["sleep", "5"], timeout=1)


def test_each_step_is_timed() -> None:
    runner = Runner(out=io.StringIO())
    result = runner.run(["sleep", "0.2"])
    assert result.seconds >= 0.2
    assert runner.history[-1] is result


ATTACHED = """
import sys
from automation.core.runner import Runner
sys.exit(Runner().attached(["sh", "-c", "read line; echo got $line; echo to-stderr >&2; exit 7"]))
"""


def test_attached_passes_stdin_streams_output_and_returns_the_exit_code() -> None:
    # A separate process: the command must read this process's own stdin, as a shell or a prompt does.
    result = subprocess.run([sys.executable, "-c", ATTACHED], input="hello\n", capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.returncode == 7
    assert result.stdout == "got hello\n"  # unindented, nothing else: it can be piped
    assert "$ sh -c" in result.stderr and "to-stderr" in result.stderr


def test_attached_masks_output_and_only_prints_in_dry_run() -> None:
    value = secrets.token_hex(12)
    register_secret(value)
    out, err = io.StringIO(), io.StringIO()
    assert Runner(out=out, err=err).attached(["echo", f"token={value}"]) == 0
    assert out.getvalue() == f"token={MASK}\n"
    assert value not in err.getvalue()
    planned = Runner(dry_run=True, out=io.StringIO(), err=io.StringIO())
    assert planned.attached(["sh", "-c", "exit 9"]) == 0
    assert planned.commands() == ["sh -c 'exit 9'"]
