"""A real Airflow API server on this machine (the locked Airflow, SQLite, no scheduler): what Cloud Composer's
environment serves at its airflowUri, for the tests that run the composer target against the Google APIs double.

Composer's API takes the caller's Google access token as its bearer token. Here the token is one this Airflow issued
(`POST /auth/token`), and the double hands gcloud that same token (CLOUDSDK_AUTH_ACCESS_TOKEN), so the product's
path is the real one: `gcloud auth print-access-token`, then `Authorization: Bearer` at the airflowUri.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import need

USER, PASSWORD = "composer-user", "composer-password"


@dataclass(frozen=True)
class AirflowServer:
    url: str
    token: str
    home: Path
    env: dict[str, str]

    def cli(self, args: list[str]) -> tuple[list[str], int]:
        """`airflow ARGS` on this Airflow's database (what Composer runs for executeAirflowCommand)."""
        done = subprocess.run([_airflow(), *args], env=self.env, capture_output=True, text=True, timeout=300)
        return (done.stdout + done.stderr).splitlines(), done.returncode

    def get(self, path: str) -> httpx.Response:
        return httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {self.token}"}, timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _airflow() -> str:
    local = Path(sys.executable).parent / "airflow"
    return str(local) if local.exists() else (shutil.which("airflow") or "airflow")


@pytest.fixture(scope="module")  # stopped once its module is done: the cluster tests after it get the CPU back
def airflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    airflow = _airflow()
    need(shutil.which(airflow) is not None, "Airflow installed in the test environment (the `airflow` extra)")
    from cryptography.fernet import Fernet

    home = tmp_path_factory.mktemp("airflow-home")
    (home / "dags").mkdir()
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({USER: PASSWORD}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": Fernet.generate_key().decode(), "AIRFLOW__API__WORKERS": "1",
    })
    migrated = subprocess.run([airflow, "db", "migrate"], env=env, capture_output=True, text=True, timeout=300)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    port = _free_port()
    log = (home / "api-server.log").open("w")
    process = subprocess.Popen([airflow, "api-server", "--port", str(port)], env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/api/v2/version", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, \
                (home / "api-server.log").read_text()[-2000:]
            time.sleep(0.3)
        answer = httpx.post(f"{url}/auth/token", json={"username": USER, "password": PASSWORD}, timeout=30)
        assert answer.status_code in (200, 201), answer.text
        yield AirflowServer(url, str(answer.json()["access_token"]), home, env)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
