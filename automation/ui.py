"""The UI/API port-forward `up` leaves running: a free port, a pid file, and the URL to print."""

from __future__ import annotations

import socket
import sys
import time

import httpx

from automation.errors import UserError
from automation.providers import Background, Provider, state_dir
from automation.runner import Runner
from automation.settings import Target


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def answers(port: int) -> bool:
    """The API server answers through the forward (an HTTP request: a bare connect-and-close breaks kubectl's
    forward)."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v2/version", timeout=3).status_code < 500
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


def forward(target: Target) -> Background:
    return Background(state_dir(target) / "port-forward.pid")


def current_url(target: Target) -> str | None:
    process = forward(target)
    if process.pid() is None:
        return None
    port_file = state_dir(target) / "port-forward.port"
    return f"http://localhost:{port_file.read_text().strip()}" if port_file.is_file() else None


def open_ui(runner: Runner, provider: Provider, port: int | None) -> str:
    target = provider.target
    url = current_url(target)
    process = forward(target)
    if url and answers(int(url.rsplit(":", 1)[1])):
        runner.ok(f"port-forward already running (pid {process.pid()})")
        return url
    process.stop(runner)
    chosen = pick_port(port or target.ui.port, explicit=port is not None)
    service = f"svc/{target.release}-{target.ui.service}"
    process.start(runner, [sys.executable, "-m", "automation.forward", *provider.kubectl_args(), "-n",
                           target.namespace, "port-forward", "--address", "127.0.0.1", service, f"{chosen}:8080"],
                  state_dir(target) / "port-forward.log")
    if not runner.dry_run:
        (state_dir(target) / "port-forward.port").write_text(str(chosen))
        deadline = time.monotonic() + 30
        while not answers(chosen):
            if time.monotonic() > deadline or process.pid() is None:
                raise UserError(f"port-forward to {service} did not open port {chosen}",
                                f"see {state_dir(target) / 'port-forward.log'}")
            time.sleep(0.5)
    return f"http://localhost:{chosen}"
