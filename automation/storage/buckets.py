"""Copying this repository's folders into buckets, the way a Composer environment's bucket is filled.

gcsfs (fsspec) does the talking, so a real bucket and the Composer rehearsal's emulator are written by the
same code; which one is decided by the environment (`emulator_env` of the task-pod contract). Every change
is announced through the runner and skipped in a dry run.
"""

from __future__ import annotations

import base64
import hashlib
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from automation.core.errors import UserError
from automation.core.runner import Runner

SKIPPED_PARTS = {"__pycache__", ".ipynb_checkpoints"}


@contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """`env` set in this process while the block runs (gcsfs reads the emulator's address from it)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def filesystem() -> Any:
    # google-api-core warns about Python versions on import: noise in every `up` and `e2e`.
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"google\..*")
    try:
        import gcsfs
    except ImportError:
        raise UserError("reaching gs:// buckets needs gcsfs", "pip install -e '.[gcs]' (the nox sessions do)") from None
    # No instance cache: the emulator's address may differ from the last call's (a new port-forward).
    return gcsfs.GCSFileSystem(skip_instance_cache=True)


@dataclass
class SyncReport:
    uploaded: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{self.uploaded} uploaded, {self.unchanged} unchanged"


def md5_base64(path: Path) -> str:
    return base64.b64encode(hashlib.md5(path.read_bytes(), usedforsecurity=False).digest()).decode()


def local_files(folder: Path) -> list[tuple[str, Path]]:
    """Every file under `folder` a bucket copy holds, by its relative path (caches left out)."""
    return sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*")
                  if p.is_file() and not SKIPPED_PARTS & set(p.parts) and not p.name.endswith(".pyc"))


class Buckets:
    def __init__(self, runner: Runner, fs: Any = None):
        self.runner = runner
        self._fs = fs

    @property
    def fs(self) -> Any:
        if self._fs is None:
            self._fs = filesystem()
        return self._fs

    def ensure_bucket(self, bucket: str) -> str:
        if not self.runner.dry_run and self.fs.exists(bucket):
            self.runner.ok(f"bucket gs://{bucket} present")
            return "unchanged"
        self.runner.plan(f"create bucket gs://{bucket}")
        if not self.runner.dry_run:
            self.fs.mkdir(bucket)
        return "created"

    def _remote(self, url: str) -> dict[str, dict[str, Any]]:
        if self.runner.dry_run:
            return {}
        base = url.removeprefix("gs://").rstrip("/")
        try:
            found = self.fs.find(base, detail=True)
        except FileNotFoundError:
            return {}
        return {name[len(base):].lstrip("/"): info for name, info in found.items()}

    def sync(self, folder: Path, url: str, *, replace: bool = True) -> SyncReport:
        """Upload every file of `folder` under `url` that is missing there, or (replace=True) differs from it.
        Files only in the bucket are left alone, as `gcloud composer environments storage dags import` does."""
        report = SyncReport()
        remote = self._remote(url)
        changed: list[tuple[str, Path]] = []
        for relative, path in local_files(folder):
            info = remote.get(relative)
            if info is not None and (not replace or _same(info, path)):
                report.unchanged += 1
            else:
                changed.append((relative, path))
        if changed:
            shown = ", ".join(r for r, _ in changed[:3]) + (f" and {len(changed) - 3} more" if len(changed) > 3 else "")
            self.runner.plan(f"upload {len(changed)} file(s) of {folder.name}/ to {url.rstrip('/')}/: {shown}")
        if not self.runner.dry_run:
            base = url.removeprefix("gs://").rstrip("/")
            for relative, path in changed:
                self.fs.put_file(str(path), f"{base}/{relative}")
        report.uploaded = len(changed)
        return report


def _same(info: Mapping[str, Any], path: Path) -> bool:
    size = info.get("size")
    if size is None or int(size) != path.stat().st_size:
        return False
    remote_md5 = info.get("md5Hash")
    return bool(remote_md5) and remote_md5 == md5_base64(path)
