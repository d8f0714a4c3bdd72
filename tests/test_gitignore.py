"""Secrets cannot be committed by accident: every project secret file the documentation names (secret.env and
its per-target secret.TARGET.env) and the local settings overlay it calls git-ignored are ignored, the committed
templates are not."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO, need
from tests.documentation import documentation_text

DOCUMENTATION = documentation_text()


def ignored(path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO).returncode == 0


def test_the_documentation_names_the_secret_files_this_test_checks() -> None:
    assert "secret.TARGET.env" in DOCUMENTATION and "`k8s/NAME/secret.env`" in DOCUMENTATION
    assert re.search(r"git-ignored overlay, for example `gcp\.yaml`", DOCUMENTATION)


@pytest.mark.parametrize("path", ["k8s/example1/secret.env", "k8s/example1/secret.gke.env",
                                  "k8s/new-project/secret.composer.env", "k8s/_probe/secret.gke.env", "gcp.yaml"])
def test_secret_files_and_the_local_overlay_are_ignored(path: str) -> None:
    need(shutil.which("git") is not None, "git")
    assert ignored(path), f"{path} is not git-ignored: one `git add -A` commits a secret"


def test_the_templates_are_not_ignored() -> None:
    need(shutil.which("git") is not None, "git")
    templates = sorted(p.relative_to(REPO).as_posix() for p in REPO.glob("k8s/*/secret.env.example"))
    assert templates
    for template in templates:
        assert not ignored(template), template
