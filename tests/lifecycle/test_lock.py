"""`lifecycle.lock`: while one process changes a target, a second `exclusive()` on it fails naming the holder;
the lock is free again once the block ends (or the holder is gone)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.core import paths
from automation.core.errors import UserError
from automation.lifecycle.lock import exclusive
from automation.settings import load_target
from tests.conftest import REPO

# A separate process that takes the lock on target `local` (state under argv[1]) as `up`, says so, and holds
# it until its stdin closes.
HOLDER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from automation.core import paths
    paths.STATE_ROOT = Path(sys.argv[1])
    from automation.lifecycle.lock import exclusive
    from automation.settings import load_target
    with exclusive(load_target("local"), sys.argv[2]):
        print("held", flush=True)
        sys.stdin.read()
""")


@pytest.fixture
def state_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "state"
    monkeypatch.setattr(paths, "STATE_ROOT", root)
    return root


@pytest.fixture
def holder(state_root: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(state_root), "up"], cwd=REPO, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def release(proc: subprocess.Popen[str]) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0


def test_a_second_command_is_refused_naming_the_holder(holder: subprocess.Popen[str]) -> None:
    with pytest.raises(UserError) as info, exclusive(load_target("local"), "down"):
        pass
    assert info.value.problem == f"another command is already changing target 'local' (up pid {holder.pid})"
    assert info.value.fix is not None and "wait for it to finish" in info.value.fix
    release(holder)
    with exclusive(load_target("local"), "down"):
        pass


def test_a_killed_holder_leaves_no_lock(holder: subprocess.Popen[str]) -> None:
    holder.kill()
    holder.wait(timeout=30)
    with exclusive(load_target("local"), "up"):
        pass


def test_other_targets_are_not_blocked(holder: subprocess.Popen[str]) -> None:
    with exclusive(load_target("existing"), "up"):
        pass


def test_the_lock_is_released_after_the_block(state_root: Path) -> None:
    target = load_target("local")
    with exclusive(target, "up"):
        lock_file = state_root / "local" / "lifecycle.lock"
        assert lock_file.read_text().startswith("up pid ")
        with pytest.raises(UserError, match="already changing target 'local'"), exclusive(target, "rotate"):
            pass
    assert lock_file.read_text() == ""
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(state_root), "rotate"], cwd=REPO, text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    release(proc)


def test_an_error_inside_the_block_releases_it(state_root: Path) -> None:
    target = load_target("local")
    with pytest.raises(RuntimeError), exclusive(target, "up"):
        raise RuntimeError("step failed")
    with exclusive(target, "up"):
        pass
