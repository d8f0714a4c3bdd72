"""The layers of `automation` are enforced: `lint-imports` fails on an import that breaks one, naming it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, need


def lint_imports() -> Path | None:
    for folder in (Path(sys.executable).parent, REPO / ".nox/lint/bin"):
        if (folder / "lint-imports").is_file():
            return folder / "lint-imports"
    found = shutil.which("lint-imports")
    return Path(found) if found else None


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The package and its contracts, copied: the check runs on the copy, never on the working tree."""
    shutil.copytree(REPO / "automation", tmp_path / "automation", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def run(folder: Path) -> subprocess.CompletedProcess[str]:
    binary = lint_imports()
    need(binary is not None, "lint-imports (the lint session: nox -s lint)")
    assert binary is not None
    env = {**os.environ, "PYTHONPATH": str(folder)}  # the copy, not an installed `automation`
    return subprocess.run([str(binary), "--no-cache"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_unmodified_package_keeps_its_layers(copy: Path) -> None:
    result = run(copy)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "automation layers KEPT" in result.stdout


def test_core_importing_the_cli_breaks_the_contract(copy: Path) -> None:
    errors = copy / "automation/core/errors.py"
    errors.write_text(errors.read_text() + "from automation.cli import main  # noqa\n")
    result = run(copy)
    assert result.returncode != 0
    assert "automation layers BROKEN" in result.stdout
    assert "automation.core.errors -> automation.cli.main" in result.stdout
