"""`storage.buckets` against a real GCS emulator (gcp-storage-emulator, as in the rehearsal): buckets made
once, a folder synced by content (an edited file goes up, an unchanged one does not, an empty one included),
seeding never overwrites, and a dry run touches nothing."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from automation.core.runner import Runner
from automation.storage.buckets import Buckets, environment, local_files
from tests.dag_files.test_example_scripts import gcs  # noqa: F401  (the emulator fixture)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "dags"
    (root / "p/scripts").mkdir(parents=True)
    (root / "p/scripts/run.py").write_text("print('v1')\n")
    (root / "p/__init__.py").write_text("")
    (root / "p/__pycache__").mkdir()
    (root / "p/__pycache__/run.cpython-311.pyc").write_bytes(b"\0")
    return root


def runner(dry_run: bool = False) -> Runner:
    return Runner(dry_run=dry_run, out=io.StringIO())


def test_local_files_leave_caches_out(folder: Path) -> None:
    assert [name for name, _ in local_files(folder)] == ["p/__init__.py", "p/scripts/run.py"]


def test_sync_uploads_what_differs_only(gcs: str, folder: Path) -> None:  # noqa: F811
    buckets = Buckets(runner())
    url = f"{gcs}/sync-test/dags"
    first = buckets.sync(folder, url)
    assert (first.uploaded, first.unchanged) == (2, 0)
    again = buckets.sync(folder, url)
    assert (again.uploaded, again.unchanged) == (0, 2)  # the empty __init__.py included
    (folder / "p/scripts/run.py").write_text("print('v2')\n")  # same size, other content
    edited = buckets.sync(folder, url)
    assert (edited.uploaded, edited.unchanged) == (1, 1)
    assert buckets.fs.cat(f"{url.removeprefix('gs://')}/p/scripts/run.py") == b"print('v2')\n"


def test_seeding_never_overwrites(gcs: str, folder: Path) -> None:  # noqa: F811
    buckets = Buckets(runner())
    url = f"{gcs}/seed-test/input"
    buckets.sync(folder, url, replace=False)
    (folder / "p/scripts/run.py").write_text("print('changed locally')\n")
    report = buckets.sync(folder, url, replace=False)
    assert (report.uploaded, report.unchanged) == (0, 2)
    assert buckets.fs.cat(f"{url.removeprefix('gs://')}/p/scripts/run.py") == b"print('v1')\n"


def test_ensure_bucket_once(gcs: str) -> None:  # noqa: F811
    buckets = Buckets(runner())
    assert buckets.ensure_bucket("made-once") == "created"
    assert buckets.ensure_bucket("made-once") == "unchanged"


def test_dry_run_plans_and_touches_nothing(folder: Path) -> None:
    class Untouchable:
        def __getattr__(self, name: str) -> None:
            raise AssertionError(f"a dry run used the bucket ({name})")

    dry = runner(dry_run=True)
    buckets = Buckets(dry, fs=Untouchable())
    assert buckets.ensure_bucket("b") == "created"
    assert buckets.sync(folder, "gs://b/dags").uploaded == 2
    out = dry.out.getvalue()  # type: ignore[attr-defined]
    assert "[dry-run] create bucket gs://b" in out and "[dry-run] upload 2 file(s) of dags/ to gs://b/dags/" in out


def test_environment_is_restored() -> None:
    import os

    os.environ.pop("ZZ_TEST_VAR", None)
    with environment({"ZZ_TEST_VAR": "1"}):
        assert os.environ["ZZ_TEST_VAR"] == "1"
    assert "ZZ_TEST_VAR" not in os.environ
