"""A throwaway PostgreSQL server for tests: PostgreSQL's own initdb and pg_ctl, on a free port of loopback."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_BIN


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Postgres:
    """A throwaway server, run by this user, or by `postgres` when the tests run as root (initdb refuses
    root): the folder then belongs to `postgres`."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="e2e-pg-"))
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.url = ""
        if self.as_root:
            shutil.chown(self.dir, "postgres", "postgres")

    def _command(self, *cmd: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if self.as_root else list(cmd)

    def _as_postgres(self, *cmd: str) -> None:
        subprocess.run(self._command(*cmd), check=True, capture_output=True, timeout=120)

    def start(self) -> str:
        data = self.dir / "data"
        self._as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres")
        self._as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "pg.log"), "-w",
                          "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1", "start")
        self._as_postgres(str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                          "airflow")
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/airflow"

    def stop(self) -> None:
        subprocess.run(self._command(str(PG_BIN / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"),
                       capture_output=True, timeout=60)
        shutil.rmtree(self.dir, ignore_errors=True)


def sql(server: Postgres, statement: str) -> str:
    """One statement run by psql as postgres in database airflow; its rows, unaligned."""
    return subprocess.run(["psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", str(server.port), "-U", "postgres",
                           "-d", "airflow", "-v", "ON_ERROR_STOP=1", "-c", statement],
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture(scope="module", name="server")
def server_fixture() -> Iterator[Postgres]:
    """A throwaway server for the module's tests."""
    running = started()
    yield running
    running.stop()


def started() -> Postgres:
    """A started server (the module's fixture stops it); in CI a missing server is a failure, not a skip."""
    from tests.conftest import need

    need((PG_BIN / "initdb").is_file(), f"PostgreSQL server binaries under {PG_BIN} (apt-get install postgresql)")
    need(os.geteuid() != 0 or shutil.which("runuser") is not None, "runuser, to start PostgreSQL as user postgres")
    server = Postgres()
    server.url = server.start()
    return server
