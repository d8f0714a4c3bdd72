"""`paths`: a target's state folder is made on first use and private (0700); `rel` shows repository paths short."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from automation.core import paths


@pytest.fixture
def state_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "state"
    monkeypatch.setattr(paths, "STATE_ROOT", root)
    return root


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_state_dir_is_made_private_on_first_use(state_root: Path) -> None:
    made = paths.state_dir("local")
    assert made == state_root / "local" and made.is_dir()
    assert mode(state_root) == 0o700 and mode(made) == 0o700


def test_state_dir_keeps_what_is_already_there(state_root: Path) -> None:
    paths.state_dir("gke").joinpath("values.merged.yaml").write_text("kept")
    assert (paths.state_dir("gke") / "values.merged.yaml").read_text() == "kept"


def test_rel_is_relative_inside_the_repository_and_absolute_outside(tmp_path: Path) -> None:
    assert paths.rel(paths.REPO_ROOT / "k8s" / "example1" / "config.env") == "k8s/example1/config.env"
    assert paths.rel(paths.SETTINGS_FILE) == "targets.yaml"
    assert paths.rel(tmp_path / "x.env") == str(tmp_path / "x.env")
    assert paths.rel(None) == ""


def test_derived_paths_point_into_this_repository() -> None:
    assert (paths.REPO_ROOT / "pyproject.toml").is_file()
    assert paths.SETTINGS_FILE.is_file() and paths.DAGS_FOLDER.is_dir()
    assert paths.IMAGE_TAGS_FILE.parent == paths.DAGS_FOLDER / "common"
