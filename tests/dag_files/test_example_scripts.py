"""The example projects' task code, run for real as the pods run it (a process with DATA_ROOT and the
project's ConfigMap values): on a local folder, on a GCS emulator (gs://), against a real PostgreSQL, and
with real papermill + ipykernel."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

import pytest

from automation.settings.contract import emulator_env
from automation.storage.buckets import environment
from tests.conftest import PG_BIN, REPO, need

DAGS = REPO / "dags"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and line[:1] != "#")
    return {k.strip(): v.strip() for k, v in pairs}


def run_task(script: str, data_root: str, *args: str, project: str, env: dict[str, str] | None = None,
             expect_ok: bool = True) -> subprocess.CompletedProcess[str]:
    """A task as its pod runs it: `python dags/SCRIPT ARGS`, with the ConfigMap's values and DATA_ROOT."""
    full_env = {**os.environ, **read_env(REPO / "k8s" / project / "config.env"), "DATA_ROOT": data_root,
                "PROJECT": project, **(env or {})}
    proc = subprocess.run([sys.executable, str(DAGS / script), *args], env=full_env, capture_output=True,
                          text=True, timeout=300)
    if expect_ok:
        assert proc.returncode == 0, f"{script} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


# -- example1 ------------------------------------------------------------------------------------------------
def expected_summary(source: Path) -> list[tuple[str, str, int, int, Decimal]]:
    """The summary computed without pandas: complete rows, first of each order id, per month and region."""
    seen: set[str] = set()
    groups: dict[tuple[str, str], list] = defaultdict(lambda: [0, 0, Decimal(0)])
    with source.open(newline="") as f:
        for row in csv.DictReader(f):
            if any(not (v or "").strip() for v in row.values()) or row["order_id"] in seen:
                continue
            seen.add(row["order_id"])
            group = groups[(row["order_date"][:7], row["region"])]
            group[0] += 1
            group[1] += int(row["quantity"])
            group[2] += int(row["quantity"]) * Decimal(row["unit_price"])
    return [(m, r, n, u, v.quantize(Decimal("0.01"), ROUND_HALF_EVEN)) for (m, r), (n, u, v) in sorted(groups.items())]


def parse_summary(text: str) -> list[tuple[str, str, int, int, Decimal]]:
    rows = csv.DictReader(io.StringIO(text))
    assert rows.fieldnames == ["month", "region", "orders", "units", "revenue"]
    return [(r["month"], r["region"], int(r["orders"]), int(r["units"]),
             Decimal(r["revenue"]).quantize(Decimal("0.01"))) for r in rows]


SALES = REPO / "data" / "example1" / "input" / "sales.csv"
RUN_ID = "manual__2025-06-01T10:00:00+00:00"


def run_example1(root: str) -> None:
    for step in ("extract", "transform", "load"):
        extra = ["--output", "output/summary.csv"] if step == "load" else []
        run_task(f"example1/scripts/{step}.py", root, "--run-id", RUN_ID, *extra, project="example1")


def test_dataset_is_committed_and_realistic() -> None:
    rows = list(csv.DictReader(SALES.open()))
    assert 40 <= len(rows) <= 200
    expected = expected_summary(SALES)
    assert sum(n for _, _, n, _, _ in expected) < len(rows), "the dataset should exercise the cleaning rules"


def test_example1_on_a_local_folder(tmp_path: Path) -> None:
    shutil.copytree(SALES.parent, tmp_path / "input")
    run_example1(str(tmp_path))
    assert parse_summary((tmp_path / "output" / "summary.csv").read_text()) == expected_summary(SALES)
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").iterdir()), "work files left behind"


@pytest.fixture(scope="module")
def gcs() -> Iterator[str]:
    """A GCS emulator on a free port; yields a bucket URL. The scripts see it through STORAGE_EMULATOR_HOST."""
    need(shutil.which("gcp-storage-emulator") is not None or _has_module("gcp_storage_emulator"),
         "gcp-storage-emulator is not installed (pip install -e .[test])")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1",
                             "--port", str(port), "--in-memory", "--default-bucket", "test-bucket", "-q"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # The variables task pods get on the Composer rehearsal (one definition: the task-pod contract).
    env = {**emulator_env(f"http://127.0.0.1:{port}"), "GOOGLE_CLOUD_PROJECT": "test"}
    # Set before gcsfs is imported (it reads them at import and at first use), restored afterwards.
    try:
        with environment(env):
            deadline = time.monotonic() + 30
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None or time.monotonic() > deadline:
                        pytest.fail("GCS emulator did not start: "
                                    f"{proc.stderr.read().decode() if proc.stderr else ''}")
                    time.sleep(0.2)
            yield "gs://test-bucket"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def test_example1_on_gcs(gcs: str) -> None:
    from upath import UPath

    root = f"{gcs}/example1"
    (UPath(root) / "input" / "sales.csv").write_bytes(SALES.read_bytes())
    run_example1(root)
    assert parse_summary((UPath(root) / "output" / "summary.csv").read_text()) == expected_summary(SALES)
    assert not [p for p in (UPath(root)).rglob("*") if "/work/" in str(p) and p.is_file()]


# -- example-db ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    """A PostgreSQL of our own (initdb in a temp folder, free port), with role airflow and db airflow_test as
    the README tells to create them. Run as user postgres when the tests run as root (postgres refuses root)."""
    need((PG_BIN / "initdb").is_file(), f"PostgreSQL server binaries not found in {PG_BIN}")
    as_root = os.geteuid() == 0
    if as_root:
        need(shutil.which("runuser") is not None, "runuser is needed to start PostgreSQL as user postgres")
    folder = Path(tempfile.mkdtemp(prefix="pg-example-db-"))
    data, port, password = folder / "data", free_port(), "example-db-test-pw"

    def as_pg(*cmd: str, **kw) -> subprocess.CompletedProcess[str]:
        full = ["runuser", "-u", "postgres", "--", *cmd] if as_root else list(cmd)
        return subprocess.run(full, capture_output=True, text=True, timeout=120, **kw)

    if as_root:
        shutil.chown(folder, "postgres")
    folder.chmod(0o700)
    user = "postgres" if as_root else os.environ.get("USER", "postgres")
    proc = as_pg(str(PG_BIN / "initdb"), "-D", str(data), "-U", user, "--auth-local=trust",
                 "--auth-host=scram-sha-256", "-E", "UTF8")
    assert proc.returncode == 0, proc.stderr
    proc = as_pg(str(PG_BIN / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
                 f"-p {port} -k {folder} -c listen_addresses=127.0.0.1", "start")
    assert proc.returncode == 0, proc.stderr + (folder / "log").read_text()
    try:
        sql = (f"CREATE ROLE airflow LOGIN PASSWORD '{password}';\n"
               "CREATE DATABASE airflow_test OWNER airflow;\n")
        proc = as_pg(str(PG_BIN / "psql"), "-h", str(folder), "-p", str(port), "-U", user, "-d", "postgres",
                     "-v", "ON_ERROR_STOP=1", input=sql)
        assert proc.returncode == 0, proc.stderr
        yield f"postgresql+psycopg://airflow:{password}@127.0.0.1:{port}/airflow_test"
    finally:
        as_pg(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.postgres
def test_example_db_writes_reads_and_checks(database_url: str, tmp_path: Path) -> None:
    env = {"DATABASE_URL": database_url}
    run_id = "manual__2025-06-01T10:00:00+00:00"
    for _ in range(2):  # a retried write replaces its rows
        run_task("example_db/scripts/write_rows.py", str(tmp_path), "--run-id", run_id, project="example-db",
                 env=env)
    proc = run_task("example_db/scripts/check_rows.py", str(tmp_path), "--run-id", run_id, "--output",
                    "output/check.json", project="example-db", env=env)
    assert database_url.split("@")[0].split(":")[-1] not in proc.stdout + proc.stderr, "password printed"
    result = json.loads((tmp_path / "output" / "check.json").read_text())
    rows = int(read_env(REPO / "k8s" / "example-db" / "config.env")["ROW_COUNT"])
    assert result["rows"] == rows and result["run_id"] == run_id
    assert result["value_sum"] == round(sum(i * 1.5 + 20 for i in range(rows)), 2)

    import sqlalchemy as sa

    engine = sa.create_engine(database_url)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM example_db_readings WHERE run_id = :r"),
                             {"r": run_id}).scalar_one()
    engine.dispose()
    assert count == rows

    # The check fails the task when what it reads is not what was written.
    proc = run_task("example_db/scripts/check_rows.py", str(tmp_path), "--run-id", run_id, project="example-db",
                    env={**env, "ROW_COUNT": str(rows + 1)}, expect_ok=False)
    assert proc.returncode != 0


def test_example_db_without_url_fails_clearly(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    proc = subprocess.run([sys.executable, str(DAGS / "example_db/scripts/write_rows.py"), "--run-id", "r"],
                          env={**env, "DATA_ROOT": str(tmp_path)}, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "DATABASE_URL" in proc.stderr


def test_example_db_secret_template_uses_psycopg3() -> None:
    url = read_env(REPO / "k8s" / "example-db" / "secret.env.example")["DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://") and url.endswith("/airflow_test")


# -- example-notebook ----------------------------------------------------------------------------------------
TEMPERATURES = REPO / "data" / "example-notebook" / "input" / "temperatures.csv"


def expected_stats() -> dict[str, tuple[int, float]]:
    by_city: dict[str, list[float]] = defaultdict(list)
    for row in csv.DictReader(TEMPERATURES.open()):
        by_city[row["city"]].append(float(row["temp_c"]))
    return {c: (len(v), round(sum(v) / len(v), 2)) for c, v in by_city.items()}


def notebook_ready() -> None:
    need(_has_module("papermill") and _has_module("ipykernel"), "papermill and ipykernel are not installed")


def run_notebook(root: str, *params: str, expect_ok: bool = True) -> subprocess.CompletedProcess[str]:
    return run_task("example_notebook/scripts/run_notebook.py", root, "--notebook", "notebooks/report.ipynb",
                    "--output", "output/report.ipynb", *params, project="example-notebook", expect_ok=expect_ok)


def test_notebook_report_on_a_local_folder(tmp_path: Path) -> None:
    notebook_ready()
    shutil.copytree(TEMPERATURES.parent, tmp_path / "input")
    run_notebook(str(tmp_path), "-p", "min_rows", "10")
    executed = json.loads((tmp_path / "output" / "report.ipynb").read_text())
    assert executed["metadata"]["papermill"]["parameters"]["min_rows"] == 10
    stats = {r["city"]: (int(r["count"]), float(r["mean"]))
             for r in csv.DictReader((tmp_path / "output" / "report_stats.csv").open())}
    assert stats == expected_stats()


def test_failing_notebook_fails_the_task_and_keeps_the_output(tmp_path: Path) -> None:
    notebook_ready()
    shutil.copytree(TEMPERATURES.parent, tmp_path / "input")
    proc = run_notebook(str(tmp_path), "-p", "min_rows", "100000", expect_ok=False)
    assert proc.returncode != 0, proc.stdout
    assert "min_rows" in proc.stderr
    executed = (tmp_path / "output" / "report.ipynb").read_text()
    assert "fewer than min_rows=100000" in executed, "the executed notebook should show the failure"


def test_notebook_report_on_gcs(gcs: str) -> None:
    notebook_ready()
    from upath import UPath

    root = f"{gcs}/example-notebook"
    (UPath(root) / "input" / "temperatures.csv").write_bytes(TEMPERATURES.read_bytes())
    run_notebook(root)
    assert (UPath(root) / "output" / "report.ipynb").exists()
    stats = {r["city"]: (int(r["count"]), float(r["mean"]))
             for r in csv.DictReader(io.StringIO((UPath(root) / "output" / "report_stats.csv").read_text()))}
    assert stats == expected_stats()


