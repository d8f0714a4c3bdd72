"""A version change of a running release: refused downwards, else backed up, upgraded, verified, and undone on a
failure, on a real PostgreSQL server (the migration and the rollback are the callables Helm's would be)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.k8s.helm import Release
from automation.k8s.metadata_db import ExternalDatabase
from automation.providers import Provider
from automation.providers.airflow_upgrade import (
    VersionChange,
    metadata_database,
    previous_versions,
    record,
    upgrade_safely,
    version_change,
)
from tests.postgres_server import Postgres, server_fixture, sql  # noqa: F401  (the fixture `server`)

RELEASE = Release("airflow", "deployed", "airflow-1.21.0", 7)


@pytest.fixture
def db(server: Postgres) -> ExternalDatabase:
    sql(server, "DROP TABLE IF EXISTS alembic_version, variable, added_by_new_version;"
                "CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);"
                "INSERT INTO alembic_version VALUES ('rev320');"
                "CREATE TABLE variable (key text PRIMARY KEY, val text);"
                "INSERT INTO variable VALUES ('kept', 'yes')")
    return ExternalDatabase(Runner(out=io.StringIO()), server.url)


def test_version_change_is_read_from_the_deployed_release_else_the_record() -> None:
    same = {"airflowVersion": "3.2.0"}
    assert previous_versions(None, None, None) is None  # a first install
    assert version_change(None, {"airflowVersion": "3.3.2"}, "1.21.0") is None
    deployed = previous_versions(RELEASE, same, {"data": {"airflow": "3.1.0", "chart": "1.20.0"}})
    assert deployed == ("3.2.0", "1.21.0")  # the release wins over the record
    assert version_change(deployed, same, "1.21.0") is None
    change = version_change(deployed, {"airflowVersion": "3.3.2"}, "1.21.0")
    assert change == VersionChange("3.2.0", "3.3.2", "1.21.0", "1.21.0")
    assert change.line == "Airflow 3.2.0 -> 3.3.2" and not change.downgrade
    assert version_change(deployed, same, "1.22.0").line == "chart 1.21.0 -> 1.22.0"  # type: ignore[union-attr]
    assert VersionChange("3.3.2", "3.2.0", "1.21.0", "1.21.0").downgrade
    # After `down` (no release, no Helm history) the record `up` left says what migrated the database.
    assert previous_versions(None, None, {"data": {"airflow": "3.3.2", "chart": "1.21.0"}}) == ("3.3.2", "1.21.0")


def test_the_record_is_what_previous_versions_reads(build: Callable[..., Provider]) -> None:
    provider = build("local")
    kept = record(provider.target, {"airflowVersion": "3.3.2"}).render()
    assert kept["metadata"]["name"] == f"{provider.target.release}-deployed-versions"
    assert previous_versions(None, None, kept) == ("3.3.2", provider.target.chart.version)


def test_a_downgrade_is_refused_naming_both_versions_and_the_revision(
        build: Callable[..., Provider], db: ExternalDatabase) -> None:
    provider = build("local", dry_run=False)
    ran: list[str] = []
    with pytest.raises(UserError) as refused:
        upgrade_safely(provider, RELEASE, VersionChange("3.3.2", "3.2.0", "1.21.0", "1.21.0"), db,
                       upgrade=lambda: ran.append("upgrade"), verify=lambda: ran.append("verify"),
                       stop=lambda: ran.append("stop"),
                       rollback=lambda revision: ran.append(f"rollback {revision}"))
    assert "downgrade Airflow 3.3.2 -> 3.2.0" in refused.value.problem
    assert "revision rev320" in refused.value.problem
    assert ran == [] and not (provider.state_dir() / "backups").exists()


def test_an_upgrade_is_backed_up_first(build: Callable[..., Provider], db: ExternalDatabase) -> None:
    provider = build("local", dry_run=False)
    ran: list[str] = []

    def upgrade() -> None:
        ran.append("upgrade")
        assert len(list((provider.state_dir() / "backups").glob("*-airflow-3.2.0-rev320.sql"))) == 1

    assert upgrade_safely(provider, RELEASE, VersionChange("3.2.0", "3.3.2", "1.21.0", "1.21.0"), db,
                          upgrade=upgrade, verify=lambda: ran.append("verify"),
                          stop=lambda: ran.append("stop"),
                       rollback=lambda revision: ran.append(f"rollback {revision}")) == "Airflow 3.2.0 -> 3.3.2"
    assert ran == ["upgrade", "verify"]


@pytest.mark.parametrize("fails", ["migration", "verification"])
def test_a_failed_upgrade_rolls_back_and_restores_the_database(
        build: Callable[..., Provider], db: ExternalDatabase, server: Postgres, fails: str) -> None:
    provider = build("local", dry_run=False)
    ran: list[str] = []

    def upgrade() -> None:  # what a migration that stopped half-way leaves
        ran.append("upgrade")
        sql(server, "UPDATE alembic_version SET version_num = 'rev332'; DELETE FROM variable;"
                    "CREATE TABLE added_by_new_version (x int)")
        if fails == "migration":
            raise UserError("'helm upgrade --install airflow ...' failed with exit code 1: job failed")

    def verify() -> None:
        ran.append("verify")
        if ran.count("verify") == 1 and fails == "verification":  # the old version, restored, is Ready
            raise UserError("Airflow was not ready after 600s (scheduler 0/1)")

    def stop() -> None:  # the database is still the new version's while everything is stopped
        ran.append("stop")
        assert db.revision() == "rev332"

    def rollback(revision: int | None) -> None:  # the old version comes back to its own database
        ran.append(f"rollback {revision}")
        assert db.revision() == "rev320"

    with pytest.raises(UserError) as undone:
        upgrade_safely(provider, RELEASE, VersionChange("3.2.0", "3.3.2", "1.21.0", "1.21.0"), db,
                       upgrade=upgrade, verify=verify, stop=stop, rollback=rollback)
    assert ran == (["upgrade", "stop", "rollback 7", "verify"] if fails == "migration"
                   else ["upgrade", "verify", "stop", "rollback 7", "verify"])
    assert "failed and was undone" in undone.value.problem and "revision 7 (Airflow 3.2.0), Ready" in \
        undone.value.problem
    assert db.revision() == "rev320"
    assert sql(server, "SELECT val FROM variable WHERE key = 'kept'") == "yes"
    assert sql(server, "SELECT to_regclass('added_by_new_version') IS NULL") == "t"


def test_the_dry_run_plans_backup_upgrade_and_rollback(build: Callable[..., Provider], db: ExternalDatabase,
                                                      server: Postgres) -> None:
    provider = build("local")
    ran: list[str] = []
    planned = ExternalDatabase(provider.runner, server.url)
    upgrade_safely(provider, RELEASE, VersionChange("3.2.0", "3.3.2", "1.21.0", "1.21.0"), planned,
                   upgrade=lambda: ran.append("upgrade"), verify=lambda: ran.append("verify"),
                   stop=lambda: ran.append("stop"),
                       rollback=lambda revision: ran.append(f"rollback {revision}"))
    printed = provider.runner.out.getvalue()  # type: ignore[attr-defined]
    assert "backup of PostgreSQL 127.0.0.1" in printed and "helm rollback airflow 7" in printed
    assert ran == ["upgrade"]  # helm's own upgrade prints itself in a dry run; nothing is verified
    assert "[dry-run] $ pg_dump" in printed
    assert not (provider.state_dir() / "backups").exists()


def test_an_install_over_a_database_that_was_never_migrated_backs_up_nothing(
        build: Callable[..., Provider], server: Postgres) -> None:
    sql(server, "DROP TABLE IF EXISTS alembic_version, variable, added_by_new_version")
    provider = build("local", dry_run=False)
    ran: list[str] = []
    upgrade_safely(provider, None, VersionChange("3.3.2", "3.2.0", "1.21.0", "1.21.0"),
                   ExternalDatabase(provider.runner, server.url), upgrade=lambda: ran.append("upgrade"),
                   verify=lambda: ran.append("verify"), stop=lambda: ran.append("stop"),
                   rollback=lambda revision: ran.append("rollback"))
    assert ran == ["upgrade"] and not (provider.state_dir() / "backups").exists()


def test_a_failed_install_after_down_is_removed_and_the_database_restored(
        build: Callable[..., Provider], db: ExternalDatabase, server: Postgres) -> None:
    provider = build("local", dry_run=False)
    ran: list[object] = []

    def upgrade() -> None:
        sql(server, "UPDATE alembic_version SET version_num = 'rev332'")
        raise UserError("'helm upgrade --install airflow ...' failed with exit code 1: job failed")

    with pytest.raises(UserError) as undone:
        upgrade_safely(provider, None, VersionChange("3.2.0", "3.3.2", "1.21.0", "1.21.0"), db, upgrade=upgrade,
                       verify=lambda: ran.append("verify"), stop=lambda: ran.append("stop"),
                       rollback=lambda revision: ran.append(revision))
    assert ran == ["stop", None]  # stopped, removed again (helm uninstall), not verified: nothing ran before
    assert "not installed, as before with its database restored" in undone.value.problem
    assert db.revision() == "rev320"


def test_the_charts_own_database_is_reached_through_kubectl_in_its_pod(
        build: Callable[..., Provider], tmp_path: Path) -> None:
    """The command lines the chart's PostgreSQL is backed up and restored with, as `up` makes them."""
    provider = build("local")
    assert provider.target.database.mode == "chart" and provider.cluster is not None
    database = metadata_database(provider, provider.cluster)
    database.backup(tmp_path / "backup.sql")
    database.restore(tmp_path / "backup.sql")
    dump, restore = provider.runner.commands()[-2:]
    for command in (dump, restore):
        assert command.startswith("kubectl ") and " -n airflow exec -i airflow-postgresql-0 -c postgresql -- " in \
            command, command
    assert "pg_dump --clean --if-exists" in dump and "--single-transaction" in restore
