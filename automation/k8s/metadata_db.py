"""Airflow's metadata database seen from this machine: its schema revision, a backup and its restore.

One interface, two places the database lives: PostgreSQL the target names by URL (database.mode external),
reached from here with PostgreSQL's own client, and the chart's bundled PostgreSQL, reached inside its pod.
A backup is plain SQL; a restore empties the schema first (in the same transaction), so the database is back as
it was whatever a half-done migration made, changed or dropped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from automation.core.errors import UserError
from automation.core.runner import Runner, register_secret
from automation.settings.model import Target

REVISION_SQL = "SELECT version_num FROM alembic_version"
# Airflow's components keep connections open (and locks with them): they are closed first, the pools reconnect.
EMPTY_SQL = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
             "AND pid <> pg_backend_pid(); DROP SCHEMA public CASCADE; CREATE SCHEMA public")


class MetadataDatabase(Protocol):
    @property
    def where(self) -> str:
        """Where it lives, for messages (no password)."""
        ...

    def revision(self) -> str | None:
        """The schema's Alembic revision (Airflow's migrations); None before Airflow made its tables."""
        ...

    def backup(self, file: Path) -> None:
        """Everything in it written to `file` (readable by this user only)."""
        ...

    def restore(self, file: Path) -> None:
        """The database put back as `file` has it."""
        ...


@dataclass(frozen=True)
class ExternalDatabase:
    """PostgreSQL by URL, through psql and pg_dump here; the password goes in their environment, never on a
    command line."""

    runner: Runner
    url: str

    @property
    def where(self) -> str:
        parts = urlsplit(self.url)
        return f"PostgreSQL {parts.hostname}:{parts.port or 5432}{parts.path}"

    def _env(self) -> dict[str, str]:
        parts = urlsplit(self.url)
        if not parts.scheme.startswith("postgres"):
            raise UserError(f"backups need a PostgreSQL metadata database, not {parts.scheme}",
                            "back it up with its own tools before changing the Airflow version")
        password = unquote(parts.password or "")
        if password:
            register_secret(password)
        return {**os.environ, "PGHOST": parts.hostname or "localhost", "PGPORT": str(parts.port or 5432),
                "PGUSER": unquote(parts.username or ""), "PGPASSWORD": password,
                "PGDATABASE": parts.path.lstrip("/") or "postgres"}

    def revision(self) -> str | None:
        result = self.runner.read(["psql", "-X", "-A", "-t", "-c", REVISION_SQL], env=self._env(), check=False,
                                  timeout=60)
        if not result.ok:
            if "alembic_version" in result.stderr:
                return None
            raise UserError(f"cannot read the schema revision of {self.where}: {result.stderr.strip()[-200:]}",
                            "check the database answers and the URL in database.url_file")
        return result.stdout.strip() or None

    def backup(self, file: Path) -> None:
        if not self.runner.dry_run:
            _private(file)
        self.runner.run(["pg_dump", "--clean", "--if-exists", "--no-owner", "-f", str(file)], env=self._env(),
                        timeout=3600, fix="check pg_dump's version is at least the server's (pg_dump --version)")

    def restore(self, file: Path) -> None:
        self.runner.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction", "-c", EMPTY_SQL,
                         "-f", str(file)],
                        env=self._env(), timeout=3600, fix=f"restore it by hand: psql -f {file}")


@dataclass(frozen=True)
class ChartDatabase:
    """The chart's bundled PostgreSQL, through its pod (its image has the client; nothing is needed here)."""

    runner: Runner
    target: Target
    kubectl: tuple[str, ...]  # kubectl with the target's context and namespace

    @property
    def pod(self) -> str:
        return f"{self.target.release}-postgresql-0"

    @property
    def where(self) -> str:
        return f"the chart's PostgreSQL (pod {self.pod})"

    def _exec(self, command: str) -> list[str]:
        # The image's own environment holds the password; the shell expands it inside the pod.
        return [*self.kubectl, "exec", "-i", self.pod, "-c", "postgresql", "--", "sh", "-c",
                f'PGPASSWORD="$POSTGRES_PASSWORD" {command}']

    def revision(self) -> str | None:
        result = self.runner.read(self._exec(f'psql -X -A -t -U postgres -d postgres -c "{REVISION_SQL}"'),
                                  check=False, timeout=60)
        if not result.ok:
            if "alembic_version" in result.stderr:
                return None
            raise UserError(f"cannot read the schema revision in {self.where}: {result.stderr.strip()[-200:]}",
                            f"see the pod: {self.target.command('status')}")
        return result.stdout.strip() or None

    def backup(self, file: Path) -> None:
        result = self.runner.run(self._exec("pg_dump --clean --if-exists --no-owner -U postgres -d postgres"),
                                 timeout=3600, quiet=False)
        if not self.runner.dry_run:
            _private(file)
            file.write_text(result.stdout)

    def restore(self, file: Path) -> None:
        self.runner.run(self._exec(f'psql -X -q -v ON_ERROR_STOP=1 --single-transaction -U postgres -d postgres '
                                   f'-c "{EMPTY_SQL}" -f -'),
                        stdin=file, timeout=3600, fix=f"restore it by hand from {file}")


def _private(file: Path) -> None:
    """The file made empty and readable by this user only, before anything is written into it."""
    file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    file.touch(mode=0o600)
    file.chmod(0o600)
