"""`up` refuses an external metadata database that does not answer, before anything is made (Helm never runs),
in one line; one that answers passes; a host only the cluster can resolve is said to be unchecked."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.k8s.airflow_secrets import check_external_db_answers
from automation.settings import load_target
from automation.settings.model import Target
from tests.conftest import run_cli


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when this returns


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def _settings(tmp_path: Path, url: str) -> Path:
    (tmp_path / "db.url").write_text(url + "\n")
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(f"targets:\n  ext:\n    extends: existing\n"
                       f"    existing: {{kubeconfig: {tmp_path / 'no-kubeconfig'}}}\n"
                       f"    database: {{mode: external, url_file: {tmp_path / 'db.url'}}}\n")
    return overlay


def _target(tmp_path: Path, url: str) -> Target:
    return load_target("ext", [str(_settings(tmp_path, url))])


def test_a_database_that_answers_passes(tmp_path: Path, listening: int) -> None:
    assert check_external_db_answers(_target(tmp_path, f"postgresql://u:pw@127.0.0.1:{listening}/db")) is None


def test_a_refused_database_is_one_line_naming_the_file(tmp_path: Path) -> None:
    port = _closed_port()
    with pytest.raises(UserError) as err:
        check_external_db_answers(_target(tmp_path, f"postgresql://u:pw@127.0.0.1:{port}/db"))
    assert err.value.problem == f"the metadata database at 127.0.0.1:{port} does not answer (connection refused)"
    assert str(tmp_path / "db.url") in (err.value.fix or "")


def test_a_name_only_the_cluster_resolves_is_not_checked(tmp_path: Path) -> None:
    note = check_external_db_answers(_target(tmp_path, "postgresql://u:pw@postgres.db.svc.cluster.invalid/db"))
    assert note is not None and "does not resolve here" in note


def test_up_stops_before_helm_and_prints_no_password(tmp_path: Path) -> None:
    port = _closed_port()
    result = run_cli("up", "--target", "ext", "--settings",
                     str(_settings(tmp_path, f"postgresql://u:pw-never-printed-42@127.0.0.1:{port}/db")))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: the metadata database at 127.0.0.1:{port} does not answer (connection refused) -- start it, or "
        f"fix the URL in {tmp_path / 'db.url'} (database.url_file); nothing was changed"]
    assert "helm" not in result.stdout and "Traceback" not in result.stderr
    assert "pw-never-printed-42" not in result.stdout + result.stderr
