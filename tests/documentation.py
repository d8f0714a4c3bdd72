"""The documentation as tests read it: the README and every page of docs/ (the README keeps the quickstart, the
site under docs/ the rest), so a check of what the documentation says holds wherever a section lives."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import REPO

DOCS = REPO / "docs"


def pages() -> list[Path]:
    """README.md, then every Markdown page of docs/, in a stable order."""
    return [REPO / "README.md", *sorted(DOCS.rglob("*.md"))]


def documentation_text() -> str:
    return "\n".join(page.read_text() for page in pages())
