"""The image tags file DAGs read (dags/common/images.json): image name -> content tag."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from automation.core.paths import IMAGE_TAGS_FILE, rel
from automation.core.runner import Runner
from automation.settings.image_tags import read_tags

TAGS_FILE = IMAGE_TAGS_FILE


def write_tags(runner: Runner, tags: dict[str, str], known: Iterable[str], path: Path = TAGS_FILE) -> None:
    """Merge into the tags file: images not handled this run keep their entry; removed image folders lose it."""
    keep = set(known)
    merged = {k: v for k, v in read_tags(path).items() if k in keep}
    merged.update(tags)
    text = json.dumps(dict(sorted(merged.items())), indent=2) + "\n"
    if path.is_file() and path.read_text() == text:
        runner.ok(f"{rel(path)} unchanged")
        return
    runner.plan(f"write {rel(path)}: {', '.join(f'{k}={v}' for k, v in sorted(tags.items()))}")
    if not runner.dry_run:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
