"""The one port-forward to Airflow's API server: a free local port, a supervised `kubectl port-forward`
(`forward_loop` restarts it when a connection breaks it), a pid file and a port file, and a wait until the
API answers through it. `up` leaves one running for the UI; `e2e` opens a temporary one when none runs."""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from automation.core.background import Background
from automation.core.errors import UserError
from automation.core.runner import Runner

API_PORT = 8080


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


API_HEALTH = "/api/v2/version"


def answers(port: int, path: str = API_HEALTH) -> bool:
    """The service answers through the forward (an HTTP request: a bare connect-and-close breaks kubectl's
    forward)."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}{path}", timeout=3).status_code < 500
    except httpx.HTTPError:
        return False


def pick_port(preferred: int, explicit: bool) -> int:
    """The preferred port, or (unless the user asked for that exact port) the next free one."""
    if port_free(preferred):
        return preferred
    if explicit:
        raise UserError(f"port {preferred} is already in use", "pass another --port, or stop what uses it")
    for port in range(preferred + 1, preferred + 50):
        if port_free(port):
            return port
    raise UserError(f"no free port in {preferred}-{preferred + 49}", "pass --port with a free port")


@dataclass(frozen=True)
class PortForward:
    """A forward named `name` (its files live in `folder`) to `service` in `namespace`."""

    name: str
    folder: Path
    kubectl_args: tuple[str, ...]
    namespace: str
    service: str
    remote_port: int = API_PORT
    health_path: str = API_HEALTH

    @property
    def process(self) -> Background:
        return Background(self.folder / f"{self.name}.pid")

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.log"

    @property
    def port_file(self) -> Path:
        return self.folder / f"{self.name}.port"

    def url(self) -> str | None:
        """The URL while the forward's process lives."""
        if self.process.pid() is None or not self.port_file.is_file():
            return None
        return f"http://localhost:{self.port_file.read_text().strip()}"

    def healthy_url(self) -> str | None:
        url = self.url()
        return url if url and answers(int(url.rsplit(":", 1)[1]), self.health_path) else None

    def start(self, runner: Runner, port: int, timeout: float = 30, fix: str | None = None) -> str:
        """Start the forward on `port` and wait until the API answers through it; its URL."""
        self.process.stop(runner)
        self.process.start(runner, [sys.executable, "-m", "automation.k8s.forward_loop", *self.kubectl_args,
                                    "-n", self.namespace, "port-forward", "--address", "127.0.0.1",
                                    f"svc/{self.service}", f"{port}:{self.remote_port}"], self.log)
        url = f"http://localhost:{port}"
        if runner.dry_run:
            return url
        self.port_file.write_text(str(port))
        deadline = time.monotonic() + timeout
        while not answers(port, self.health_path):
            if time.monotonic() > deadline or self.process.pid() is None:
                lines = self.log.read_text().strip().splitlines() if self.log.is_file() else []
                tail = [x for x in lines if not x.startswith("port-forward exited")][-1:]
                raise UserError(f"port-forward to svc/{self.service} in namespace {self.namespace} did not open "
                                f"port {port}{': ' + tail[0] if tail else ''}", fix or f"see {self.log}")
            time.sleep(0.5)
        return url

    def stop(self, runner: Runner) -> bool:
        stopped = self.process.stop(runner)
        if not runner.dry_run:
            self.port_file.unlink(missing_ok=True)
        return stopped
