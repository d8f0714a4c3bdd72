"""Secrets cannot be committed by accident: every file the documentation calls git-ignored (README.md and any
docs/**/*.md) is ignored by the committed .gitignore, checked with `git check-ignore` in a fresh clone; the
committed templates are not. The names come from the documentation itself, so a file newly documented as
git-ignored is checked without a change here."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, fresh_clone, need

# A path-like word: a folder part or a dotted name (`.state/gke-db-url`, `k8s/PROJECT/secret.env`, `gcp.yaml`).
PATH = r"[\w.-]*(?:/[\w.-]+)+/?|[\w-]*\.[\w.-]+"
_AFTER = re.compile(rf"git-ignored\s+(?:[a-z]+,?\s+){{0,3}}`(?P<path>{PATH})`(?:\s*\(and\s+`(?P<also>{PATH})`\))?")
_BEFORE = re.compile(r"`(?P<span>[^`]+)`\s*\((?:[^()`]{0,24}?)git-ignored")
_COMMENT = re.compile(rf"(?P<path>{PATH})\}}?\s+#\s*git-ignored")
# Placeholders the documentation writes in paths, and the real names they stand for here.
PLACEHOLDERS = {"PROJECT": ("example1", "new-project"), "NAME": ("example-db", "_probe"),
                "TARGET": ("gke", "composer", "local")}


def documentation() -> dict[str, str]:
    files = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    return {path.relative_to(REPO).as_posix(): path.read_text() for path in files if path.is_file()}


def documented_ignored(text: str) -> set[str]:
    """The paths a text calls git-ignored: "the git-ignored `X`" (and "(and `Y`)"), "`X` (the values,
    git-ignored", "X}  # git-ignored", "a git-ignored overlay, for example `X`"."""
    text = re.sub(r"\s+", " ", text)  # a phrase may wrap
    found: set[str] = set()
    for match in _AFTER.finditer(text):
        found |= {match.group("path"), *(filter(None, [match.group("also")]))}
    for match in _BEFORE.finditer(text):
        paths = re.findall(PATH, match.group("span"))
        if paths:
            found.add(paths[-1].rstrip("}"))
    found |= {match.group("path") for match in _COMMENT.finditer(text)}
    return found


def concrete(path: str) -> list[str]:
    """Repository paths to check for a documented one: placeholders filled in; a folder (`X/`) gets a file in
    it; a bare name (`secret.env`, `gcp.yaml`) is checked both in a project folder and at the root."""
    paths = [path]
    for placeholder, names in PLACEHOLDERS.items():
        paths = [p.replace(placeholder, name) for p in paths for name in (names if placeholder in p else (p,))]
    return [p + "probe" if p.endswith("/") else p for p in paths]


def ignored(clone: Path, path: str) -> bool:
    return subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=clone).returncode == 0


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need(shutil.which("git") is not None, "git")
    return fresh_clone(tmp_path_factory.mktemp("gitignore") / "clone")


def test_the_derivation_reads_each_way_the_docs_say_it() -> None:
    text = """They land in the git-ignored
`.tools/bin`, which. A Secret from the git-ignored `k8s/PROJECT/secret.env` (template: `secret.env.example`).
KEY of the project's git-ignored `secret.env` (and `secret.TARGET.env`).
  database: {mode: external, url_file: .state/metadata-db.url}   # git-ignored; holds
`k8s/NAME/secret.env.example` (the template, committed) and `k8s/NAME/secret.env` (the values, git-ignored;
Then a git-ignored overlay, for example `gcp.yaml`, with your values (`targets.yaml` holds placeholders):
`database: {mode: external, url_file: .state/gke-db-url}` (a git-ignored file with the SQLAlchemy URL)."""
    assert documented_ignored(text) == {".tools/bin", "k8s/PROJECT/secret.env", "secret.env", "secret.TARGET.env",
                                        ".state/metadata-db.url", "k8s/NAME/secret.env", "gcp.yaml",
                                        ".state/gke-db-url"}
    assert concrete("k8s/PROJECT/secret.TARGET.env")[:2] == ["k8s/example1/secret.gke.env",
                                                             "k8s/example1/secret.composer.env"]
    assert concrete(".tools/") == [".tools/probe"]


def test_every_file_the_docs_call_git_ignored_is_ignored(clone: Path) -> None:
    documented = {path: doc for doc, text in documentation().items() for path in documented_ignored(text)}
    # The derivation must keep finding what issue 28 found unignored: a docs rewrite that loses them fails here.
    assert {"secret.TARGET.env", "gcp.yaml"} <= {p.rsplit("/", 1)[-1] for p in documented}, documented
    missing = []
    for path, doc in sorted(documented.items()):
        for candidate in concrete(path):
            bare = "/" not in candidate
            places = [candidate, f"k8s/example1/{candidate}"] if bare else [candidate]
            if not any(ignored(clone, place) for place in places):
                missing.append(f"{candidate} ({doc} calls {path} git-ignored)")
    assert not missing, "not git-ignored: one `git add -A` commits them: " + "; ".join(missing)


def test_the_templates_are_not_ignored(clone: Path) -> None:
    templates = sorted(p.relative_to(clone).as_posix() for p in clone.glob("k8s/*/secret.env.example"))
    assert templates
    for template in templates:
        assert not ignored(clone, template), template
