"""`k8s.port_forward`: a port in use is found (with a socket bound here), an explicit one is refused, otherwise
the next free one is taken; a forward has a URL only while its process lives."""

from __future__ import annotations

import io
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.k8s.port_forward import PortForward, pick_port, port_free


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_bound_port_is_not_free(busy_port: int) -> None:
    assert not port_free(busy_port)


def test_an_explicit_port_in_use_is_refused(busy_port: int) -> None:
    with pytest.raises(UserError) as info:
        pick_port(busy_port, explicit=True)
    assert info.value.problem == f"port {busy_port} is already in use"


def test_otherwise_the_next_free_port_is_taken(busy_port: int) -> None:
    picked = pick_port(busy_port, explicit=False)
    assert busy_port < picked < busy_port + 50 and port_free(picked)


def test_a_free_preferred_port_is_kept() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert port_free(port) and pick_port(port, explicit=True) == port


def forward(folder: Path) -> PortForward:
    return PortForward("port-forward", folder, ("--context", "x"), "airflow", "airflow-api-server")


def test_url_needs_a_live_process_and_a_port_file(tmp_path: Path) -> None:
    fwd = forward(tmp_path)
    assert fwd.process.pidfile == tmp_path / "port-forward.pid" and fwd.log == tmp_path / "port-forward.log"
    assert fwd.url() is None
    fwd.port_file.write_text("8093\n")
    assert fwd.url() is None  # no pid file
    fwd.process.pidfile.write_text("999999999 kubectl port-forward\n")
    assert fwd.url() is None  # a pid that does not run
    fwd.process.pidfile.write_text(f"{os.getpid()} kubectl port-forward\n")
    assert fwd.url() == "http://localhost:8093"
    fwd.port_file.unlink()
    assert fwd.url() is None


def test_dry_run_start_plans_the_supervised_forward_and_writes_nothing(tmp_path: Path) -> None:
    runner = Runner(dry_run=True, out=io.StringIO())
    assert forward(tmp_path).start(runner, 8093) == "http://localhost:8093"
    (command,) = runner.commands()
    assert "-m automation.k8s.forward_loop --context x -n airflow port-forward --address 127.0.0.1" in command
    assert command.endswith("svc/airflow-api-server 8093:8080")
    assert list(tmp_path.iterdir()) == []


def test_a_forward_to_another_service_port() -> None:
    runner = Runner(dry_run=True, out=io.StringIO())
    emulator = PortForward("gcs-emulator", Path("/nonexistent"), (), "airflow", "gcs-emulator", remote_port=9023,
                           health_path="/storage/v1/b")
    emulator.start(runner, 9100)
    (command,) = runner.commands()
    assert command.endswith("svc/gcs-emulator 9100:9023")
