"""A task's XCom, as its script writes it: JSON in the file project_task(xcom=True) names in $XCOM_RETURN_FILE
(dags/common/contract.py), read from there by the provider's XCom sidecar on the cluster and by `nox -s task`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENV = "XCOM_RETURN_FILE"  # contract.XCOM_RETURN_ENV


def write_xcom(value: Any) -> Path:
    """Write VALUE (anything JSON can hold) as the task's XCom return_value; the file's path."""
    where = os.environ.get(ENV)
    if not where:
        raise SystemExit(f"{ENV} is not set: build this task with project_task(..., xcom=True)")
    path = Path(where)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, sort_keys=True))
    return path
