"""MkDocs hook (mkdocs.yml `hooks:`): the generated parts of the pages, made from the code at build time by
automation/cli/reference.py, so the CLI and targets.yaml references cannot go stale and nothing generated is
committed."""

from __future__ import annotations

from typing import Any

from automation.cli.reference import expand_markers


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    return expand_markers(markdown, page.file.src_uri)
