"""A task's XCom when `task` runs it locally: read where the provider's sidecar reads it on the cluster, and kept
for the DAG's later tasks, whose `ti.xcom_pull(...)` templates then render locally as on the cluster.

The task's script writes JSON to contract.XCOM_RETURN_FILE; `task` binds a temporary folder at its folder
(contract.XCOM_DIR) in place of the sidecar's emptyDir and reads the file after the container exits, with the
provider's rules: an empty or absent file is no XCom, anything else must be JSON.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath
from typing import Any

from automation.core.errors import UserError
from automation.core.paths import STATE_ROOT
from automation.settings.contract import XCOM_RETURN_FILE

RETURN_NAME = PurePosixPath(XCOM_RETURN_FILE).name
STORE = STATE_ROOT / "task-xcom"
RETURN_KEY = "return_value"


def read_return(folder: Path, where: str) -> tuple[bool, Any]:
    """(True, value) when the task wrote an XCom into FOLDER (the host side of contract.XCOM_DIR), else (False,
    None). `where` names the task in the error about a file that is not JSON."""
    path = folder / RETURN_NAME
    try:
        text = path.read_text()
    except FileNotFoundError:
        return False, None
    if not text.strip():
        return False, None
    try:
        return True, json.loads(text)
    except ValueError as exc:
        raise UserError(f"task {where} wrote {XCOM_RETURN_FILE} that is not JSON ({exc})",
                        "write it with json.dumps (the cluster's XCom sidecar refuses it the same way)") from None


def _stored(dag_id: str, task_id: str) -> Path:
    return STORE / dag_id / f"{task_id}.json"


def store(dag_id: str, task_id: str, found: bool, value: Any) -> None:
    """Keep the task's last local XCom for its DAG's later tasks (none: forget the previous one)."""
    path = _stored(dag_id, task_id)
    if not found:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, sort_keys=True))


def stored_files(dag_id: str) -> list[Path]:
    """The DAG's kept XComs: a later task's pod depends on them (its templates pull them)."""
    folder = STORE / dag_id
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


class LocalXComs:
    """`ti.xcom_pull` for templates rendered by `task`: the last local run's XCom of each upstream task."""

    def __init__(self, dag_id: str) -> None:
        self.dag_id = dag_id

    def xcom_pull(self, task_ids: str | list[str] | None = None, key: str = RETURN_KEY, **_: Any) -> Any:
        if key != RETURN_KEY:
            raise LookupError(f"only the {RETURN_KEY!r} XCom is kept locally, not {key!r}")
        if task_ids is None:
            raise LookupError("name the task: ti.xcom_pull(task_ids='TASK')")
        many = not isinstance(task_ids, str)
        values = [self._one(task_id) for task_id in ([task_ids] if isinstance(task_ids, str) else task_ids)]
        return values if many else values[0]

    def _one(self, task_id: str) -> Any:
        path = _stored(self.dag_id, task_id)
        if not path.is_file():
            raise LookupError(f"no local XCom of {self.dag_id}.{task_id}: run "
                              f"`nox -s task -- {self.dag_id} {task_id}` first")
        return json.loads(path.read_text())
