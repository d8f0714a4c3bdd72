"""The package's version is pyproject.toml's, whether run from the source tree or installed."""

from __future__ import annotations

import tomllib

from automation.core import package
from tests.conftest import REPO, run_cli

PYPROJECT_VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_the_source_tree_reports_pyprojects_version() -> None:
    assert package.version() == PYPROJECT_VERSION


def test_version_before_and_after_a_command() -> None:
    for args in (["--version"], ["status", "--version"]):  # after a command: what a nox session passes on
        shown = run_cli(*args)
        assert shown.returncode == 0, shown.stderr
        assert shown.stdout == f"automation {PYPROJECT_VERSION}\n", args
