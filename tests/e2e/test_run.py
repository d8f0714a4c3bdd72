"""`python -m automation e2e` against a real Airflow 3 (api-server, scheduler, dag-processor, LocalExecutor,
PostgreSQL), started once for the module: the same REST API the chart's api-server serves."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PG_BIN, need, run_cli
from tests.postgres_server import Postgres, free_port

PROJECT = "e2etest"

DAGS = textwrap.dedent('''
    """DAGs for tests/test_e2e_rest.py: the project convention (tag project:NAME, param output)."""
    import os
    import time
    from datetime import datetime

    from airflow.sdk import dag, task

    DATA = os.environ["E2E_TEST_DATA"]

    @dag(dag_id="e2e_ok", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
         tags=["project:e2etest"], params={"output": "out/result.csv"})
    def e2e_ok():
        @task
        def make():
            return [("a", 1), ("b", 2)]

        @task
        def write(rows, params=None):
            path = os.path.join(DATA, "e2etest", params["output"])
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as out:
                out.write("name,value\\n")
                for name, value in rows:
                    out.write(f"{name},{value}\\n")

        write(make())

    e2e_ok()

    @dag(dag_id="e2e_no_output", schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
    def e2e_no_output():
        @task
        def noop():
            return 1

        noop()

    e2e_no_output()

    @dag(dag_id="e2e_wrong_output", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
         tags=["project:e2etest"], params={"output": "out/not-written.csv"})
    def e2e_wrong_output():
        @task
        def noop():
            return 1

        noop()

    e2e_wrong_output()

    @dag(dag_id="e2e_fail", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
         tags=["project:e2etest"], params={"output": "out/never.csv"}, default_args={"retries": 0})
    def e2e_fail():
        @task
        def boom():
            print("E2E-MARKER: the input table is empty")
            raise ValueError("E2E-MARKER: refusing to write an empty result")

        boom()

    e2e_fail()

    @dag(dag_id="e2e_slow", schedule=None, start_date=datetime(2024, 1, 1), catchup=False,
         tags=["project:e2etest"], params={"output": "out/slow.csv"})
    def e2e_slow():
        @task
        def sleep():
            time.sleep(300)

        sleep()

    e2e_slow()
''')


def _wait(what: str, check, timeout: float, logs: list[Path]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(1)
    tails = "\n".join(f"--- {p}\n{p.read_text()[-3000:]}" for p in logs if p.is_file())
    pytest.fail(f"{what} not ready after {timeout:.0f}s\n{tails}", pytrace=False)


@dataclass
class Airflow:
    url: str
    data: Path
    settings: Path


def airflow_env(home: Path, db_url: str, port: int, data: Path) -> dict[str, str]:
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": "admin"}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": db_url,
        "AIRFLOW__CORE__AUTH_MANAGER":
            "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        # Every component signs or checks the same tokens: one shared secret, not one random per process.
        "AIRFLOW__API_AUTH__JWT_SECRET": "e2e-test-jwt-secret-0123456789abcdef",
        "AIRFLOW__API__SECRET_KEY": "e2e-test-api-secret-0123456789abcdef",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
        "E2E_TEST_DATA": str(data),
    })
    return env


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(f"{url}/api/v2/version", timeout=3).status_code in (200, 401, 403)
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Airflow]:
    bin_dir = Path(sys.executable).parent
    need((bin_dir / "airflow").is_file(), "Airflow is not installed in the test environment")
    need((PG_BIN / "initdb").is_file(), f"PostgreSQL server binaries under {PG_BIN} (apt-get install postgresql)")
    need(os.geteuid() != 0 or shutil.which("runuser") is not None, "runuser, to start PostgreSQL as user postgres")
    root = tmp_path_factory.mktemp("airflow")
    home, data = root / "home", root / "data"
    (home / "dags").mkdir(parents=True)
    data.mkdir()
    (home / "dags" / "e2e_test_dags.py").write_text(DAGS)
    pg = Postgres()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        db_url = pg.start()
        port = free_port()
        env = airflow_env(home, db_url, port, data)
        airflow_bin = str(bin_dir / "airflow")
        subprocess.run([airflow_bin, "db", "migrate"], env=env, check=True, capture_output=True, timeout=600)
        logs = []
        for component in (["api-server", "--port", str(port), "--workers", "1"], ["scheduler"], ["dag-processor"]):
            log = root / f"{component[0]}.log"
            logs.append(log)
            with open(log, "wb") as out:
                procs.append(subprocess.Popen([airflow_bin, *component], env=env, stdout=out,
                                              stderr=subprocess.STDOUT, start_new_session=True))
        url = f"http://127.0.0.1:{port}"
        _wait("airflow api-server", lambda: _answers(url), 300, logs)
        settings = root / "settings.yaml"
        settings.write_text(textwrap.dedent(f"""\
            targets:
              e2e-test:
                provider: existing
                existing: {{context: null}}
                mounts:
                  dags: {{host: {home / 'dags'}, node: /unused/dags}}
                  data: {{host: {data}, node: /unused/data}}
                login: {{username: admin, password: admin}}
            """))
        yield Airflow(url, data, settings)
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
        pg.stop()


def e2e(af: Airflow, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return run_cli("e2e", "--target", "e2e-test", "--settings", str(af.settings), "--url", af.url, *args,
                   timeout=timeout + 120)


def assert_one_error(result: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    for needle in needles:
        assert needle in last, last
    return last


def test_success_checks_output(airflow: Airflow) -> None:
    result = e2e(airflow, "--dag", "e2e_ok", "--timeout", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "success" in out
    assert "out/result.csv" in out
    assert "name,value" in out and "a,1" in out
    assert (airflow.data / PROJECT / "out" / "result.csv").is_file()


def test_success_without_output_param(airflow: Airflow) -> None:
    result = e2e(airflow, "--dag", "e2e_no_output", "--timeout", "300")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no output check" in result.stdout


def test_failing_task_prints_its_log(airflow: Airflow) -> None:
    result = e2e(airflow, "--dag", "e2e_fail", "--timeout", "300")
    last = assert_one_error(result, "e2e_fail", "boom")
    assert "failed" in last
    assert "E2E-MARKER: the input table is empty" in result.stdout
    assert "E2E-MARKER: refusing to write an empty result" in result.stdout


def test_timeout_names_task_states(airflow: Airflow) -> None:
    result = e2e(airflow, "--dag", "e2e_slow", "--timeout", "20")
    last = assert_one_error(result, "20s", "sleep")
    assert "running" in last or "queued" in last or "scheduled" in last


def test_wrong_credentials(airflow: Airflow) -> None:
    result = e2e(airflow, "--dag", "e2e_ok", "--password", "not-the-password")
    last = assert_one_error(result, "401")
    assert "not-the-password" not in result.stdout + result.stderr
    assert "password" in last


def test_unreachable_api(airflow: Airflow) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    result = run_cli("e2e", "--target", "e2e-test", "--settings", str(airflow.settings), "--url", closed,
                     "--connect-timeout", "5", timeout=120)
    assert_one_error(result, closed, "not reachable")


def test_unknown_dag(airflow: Airflow) -> None:
    result = e2e(airflow, "--dag", "no_such_dag", "--timeout", "20")
    last = assert_one_error(result, "no_such_dag")
    assert "e2e_ok" in last


def test_declared_output_missing(airflow: Airflow) -> None:
    result = e2e(airflow, "--dag", "e2e_wrong_output", "--timeout", "300")
    assert result.returncode == 1
    assert_one_error(result, "out/not-written.csv", "does not exist")


def test_dry_run_changes_nothing(airflow: Airflow) -> None:
    result = e2e(airflow, "--dag", "e2e_ok", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[dry-run]" in result.stdout and "trigger" in result.stdout


def test_no_url_and_unreachable_cluster(tmp_path: Path) -> None:
    """No --url, no port-forward, a cluster that does not answer: one line, no 30 s wait for a forward."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(textwrap.dedent("""\
        apiVersion: v1
        kind: Config
        clusters: [{name: c, cluster: {server: "https://127.0.0.1:1"}}]
        contexts: [{name: closed, context: {cluster: c, user: u}}]
        users: [{name: u, user: {}}]
        current-context: closed
        """))
    name = f"e2e-nocluster-{os.getpid()}"
    settings = tmp_path / "settings.yaml"
    settings.write_text(textwrap.dedent(f"""\
        targets:
          {name}:
            provider: existing
            existing: {{kubeconfig: {kubeconfig}, context: closed}}
            mounts:
              dags: {{host: dags, node: /unused/dags}}
              data: {{host: data, node: /unused/data}}
            login: {{username: admin, password: admin}}
        """))
    try:
        result = run_cli("e2e", "--target", name, "--settings", str(settings), timeout=120)
    finally:
        shutil.rmtree(Path(__file__).resolve().parents[2] / ".state" / name, ignore_errors=True)
    assert_one_error(result, "unreachable", "--url")


def test_pod_label_matches_airflow() -> None:
    """Pod events are found by the labels Airflow gives task pods: the same sanitizing, or no match."""
    try:
        from airflow.providers.cncf.kubernetes import pod_generator
    except ImportError:
        pod_generator = None
    need(pod_generator is not None, "apache-airflow-providers-cncf-kubernetes is not installed")
    from automation.e2e.diagnose import safe_label

    for value in ("example1", "manual__2026-01-01T10:00:00.123+00:00", "x" * 80, "-task.with_dash-"):
        assert safe_label(value) == pod_generator.make_safe_label_value(value)
