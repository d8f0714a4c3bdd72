"""The one way example1's scripts reach their data: UPath over DATA_ROOT, a folder in the pod (local targets)
or gs://BUCKET/example1 (GKE, Composer), so the same script runs everywhere."""

from __future__ import annotations

import os
import re

import pandas as pd
from upath import UPath


def root() -> UPath:
    value = os.environ.get("DATA_ROOT")
    if not value:
        raise SystemExit("DATA_ROOT is not set: run this script through its DAG task (or export DATA_ROOT)")
    return UPath(value)


def run_folder(run_id: str) -> UPath:
    """Intermediate files of one DAG run: runs never read each other's."""
    return root() / "work" / re.sub(r"[^A-Za-z0-9._-]", "_", run_id)


def read_csv(path: UPath, **kwargs) -> pd.DataFrame:
    with path.open("rb") as f:
        return pd.read_csv(f, **kwargs)


def write_csv(df: pd.DataFrame, path: UPath) -> None:
    if path.protocol in ("", "file", "local"):
        path.parent.mkdir(parents=True, exist_ok=True)  # object stores have no folders to make
    with path.open("w", newline="") as f:
        df.to_csv(f, index=False)
    print(f"wrote {len(df)} rows to {path}")
