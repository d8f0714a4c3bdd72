"""Every path the product derives, one function each: the repository, its `.state` folder, a target's state."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_ROOT = REPO_ROOT / ".state"
SETTINGS_FILE = REPO_ROOT / "targets.yaml"
DAGS_FOLDER = REPO_ROOT / "dags"
IMAGES_DIR = REPO_ROOT / "images"
PROJECTS_DIR = REPO_ROOT / "k8s"
# The file DAGs read image tags from (written by `nox -s images`).
IMAGE_TAGS_FILE = DAGS_FOLDER / "common" / "images.json"
# Where `python -m automation tools` installs the pinned minikube, kubectl and helm (git-ignored); `up`
# prefers a binary found here to one on PATH.
TOOLS_BIN = REPO_ROOT / ".tools" / "bin"


def cache_dir() -> Path:
    """Downloads kept between runs (the worker images' wheels): $AUTOMATION_CACHE_DIR, else the user's cache
    folder. Outside the repository, so a clean checkout or `git clean` never throws them away."""
    explicit = os.environ.get("AUTOMATION_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "airflow-automation"


def state_dir(target_name: str) -> Path:
    """Where a target's local state lives (pid files, merged values, the lock); made on first use, private."""
    path = STATE_ROOT / target_name
    if not path.is_dir():
        STATE_ROOT.mkdir(mode=0o700, exist_ok=True)
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def rel(path: Path | None) -> str:
    """A path as the user should read it: relative to the repository when inside it."""
    if path is None:
        return ""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def write_private(path: Path, text: str) -> None:
    """Write `text` readable by this user only (it may hold secrets), also over a file made earlier with wider
    permissions: its mode is set on the open file, before anything is written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
