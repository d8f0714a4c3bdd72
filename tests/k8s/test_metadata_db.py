"""The metadata database's revision, backup and restore, on a real PostgreSQL server (external mode)."""

from __future__ import annotations

import io
import stat
from pathlib import Path

import pytest

from automation.core.runner import Runner
from automation.k8s.metadata_db import ExternalDatabase
from tests.postgres_server import Postgres, server_fixture, sql  # noqa: F401  (the fixture `server`)

PASSWORD = "not-on-any-command-line"


def database(server: Postgres) -> tuple[ExternalDatabase, Runner]:
    runner = Runner(out=io.StringIO())
    # The server trusts loopback, so any password works: it only has to stay off command lines.
    url = server.url.replace("postgres@", f"postgres:{PASSWORD}@")
    return ExternalDatabase(runner, url), runner


def test_revision_backup_and_restore_undo_a_half_done_migration(server: Postgres, tmp_path: Path) -> None:
    db, runner = database(server)
    sql(server, "DROP TABLE IF EXISTS alembic_version, connection")
    assert db.revision() is None  # before Airflow made its tables
    sql(server, "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
                "INSERT INTO alembic_version VALUES ('29ce7909c52b');"
                "CREATE TABLE connection (conn_id text PRIMARY KEY, password text);"
                "INSERT INTO connection VALUES ('example_db', 'gAAAA-encrypted')")
    assert db.revision() == "29ce7909c52b"

    backup = tmp_path / "backups" / "before.sql"
    db.backup(backup)
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    # What a migration that stopped half-way leaves: a new revision, a table gone, a new one made.
    sql(server, "UPDATE alembic_version SET version_num = 'ffffffffffff'; DROP TABLE connection;"
                "CREATE TABLE half_made (x int)")
    db.restore(backup)

    assert db.revision() == "29ce7909c52b"
    assert sql(server, "SELECT password FROM connection WHERE conn_id = 'example_db'") == "gAAAA-encrypted"
    assert sql(server, "SELECT to_regclass('half_made') IS NULL") == "t"
    shown = "\n".join(" ".join(result.cmd) for result in runner.history) + runner.out.getvalue()  # type: ignore[attr-defined]
    assert "pg_dump" in shown
    assert PASSWORD not in shown


def test_a_database_that_does_not_answer_is_one_line(tmp_path: Path) -> None:
    from automation.core.errors import UserError
    from tests.postgres_server import free_port

    db = ExternalDatabase(Runner(out=io.StringIO()), f"postgresql://u:p@127.0.0.1:{free_port()}/airflow")
    with pytest.raises(UserError, match=r"cannot read the schema revision of PostgreSQL 127\.0\.0\.1"):
        db.revision()
