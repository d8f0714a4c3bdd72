"""uv.lock, the one lock every nox session installs from: whether it still matches pyproject.toml, and what a
refresh changed. Standard library only: the noxfile loads this file by path before any environment exists
(`nox -s lock` must run exactly when the lock is stale)."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

REFRESH = "nox -s lock"


def lock_problem(root: str | Path) -> str | None:
    """One line naming what keeps the lock from being installed, with the command that fixes it; None when
    uv.lock matches pyproject.toml."""
    if shutil.which("uv") is None:
        return "uv is not installed: the sessions install from uv.lock with it -- pip install uv (or pipx install uv)"
    if not Path(root, "uv.lock").is_file():
        return ("uv.lock is missing -- restore it with `git checkout uv.lock`, or make it anew with "
                f"`{REFRESH}` and commit it")
    # --check: uv resolves pyproject.toml again and compares; the lock is never written. Plain subprocess, not
    # automation.core.process: loaded by path before any environment exists, this file has neither the package
    # nor `sh` to import.
    checked = subprocess.run(["uv", "lock", "--check"], cwd=root, capture_output=True, text=True)
    if checked.returncode == 0:
        return None
    if "needs to be updated" in checked.stderr:
        return (f"uv.lock is out of date with pyproject.toml -- run `{REFRESH}`, read what it changed, and commit "
                "uv.lock with pyproject.toml")
    errors = [line.strip() for line in checked.stderr.splitlines() if line.strip().startswith("error:")]
    last = errors[-1] if errors else (checked.stderr.strip().splitlines() or ["no output"])[-1]
    return f"`uv lock --check` failed: {last.removeprefix('error: ')} -- fix pyproject.toml, then `{REFRESH}`"


def versions(text: str) -> dict[str, str]:
    """Package name -> version of a uv.lock's text (the project itself included: it has a version too)."""
    if not text.strip():
        return {}
    return {package["name"]: str(package.get("version", "")) for package in tomllib.loads(text).get("package", [])}


def changes(before: str, after: str) -> list[str]:
    """What a refresh did, a line per package: added, removed, or moved from one version to another."""
    old, new = versions(before), versions(after)
    lines = [f"added   {name} {new[name]}" for name in sorted(new.keys() - old.keys())]
    lines += [f"removed {name} {old[name]}" for name in sorted(old.keys() - new.keys())]
    lines += [f"changed {name} {old[name]} -> {new[name]}" for name in sorted(old.keys() & new.keys())
              if old[name] != new[name]]
    return lines
