"""This package's own version: the `version` of pyproject.toml's [project], the one place it is written."""

from __future__ import annotations

import importlib.metadata
import tomllib

from automation.core.paths import REPO_ROOT

DISTRIBUTION = "airflow-k8s-automation"


def version() -> str:
    """pyproject.toml beside the package when run from a source tree (a clone, an editable install: the
    metadata an editable install wrote keeps the version of the day it was installed), else the installed
    distribution's metadata (a wheel, a `pip install .`), which carries pyproject's version."""
    pyproject = REPO_ROOT / "pyproject.toml"
    if pyproject.is_file():
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        if project.get("name") == DISTRIBUTION:
            return str(project["version"])
    return importlib.metadata.version(DISTRIBUTION)
