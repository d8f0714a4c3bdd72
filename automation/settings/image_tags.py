"""Reading an image tags file (image name -> content tag): the DAGs' dags/common/images.json, or a target's
tool images under .state/. `images.tags` writes them."""

from __future__ import annotations

import json
from pathlib import Path

from automation.core.paths import IMAGE_TAGS_FILE


def read_tags(path: Path = IMAGE_TAGS_FILE) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}
