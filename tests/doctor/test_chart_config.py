"""The execution API URL and the JWT secret as the chart set them."""

from __future__ import annotations

from collections.abc import Callable

from automation.doctor.checks.chart_config import check_execution_api, check_jwt, url_problem
from automation.doctor.probe import Probe
from tests.doctor.conftest import FakeCluster

SERVICE = {"metadata": {"name": "airflow-api-server"}, "spec": {"ports": [{"port": 8080}]}}


def config(url: str) -> dict:
    return {"metadata": {"name": "airflow-config"},
            "data": {"airflow.cfg": f"[core]\nexecution_api_server_url = {url}\n[api_auth]\n"}}


def workload(component: str, secret: str = "airflow-core-secrets", key: str = "jwt-secret") -> dict:
    env = [{"name": "AIRFLOW__API_AUTH__JWT_SECRET", "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}]
    return {"metadata": {"name": f"airflow-{component}", "labels": {"component": component}},
            "spec": {"template": {"spec": {"containers": [{"name": component, "env": env}]}}}}


def test_the_url_must_reach_the_api_servers_service() -> None:
    name, ns = "airflow-api-server", "airflow"
    assert url_problem("http://airflow-api-server:8080/execution/", SERVICE, name, ns) is None
    assert url_problem("http://airflow-api-server.airflow.svc.cluster.local:8080/execution/", SERVICE, name, ns) is None
    assert "does not name" in (url_problem("http://localhost:8080/execution/", SERVICE, name, ns) or "")
    assert "port 9091" in (url_problem("http://airflow-api-server:9091/execution/", SERVICE, name, ns) or "")
    assert "/execution/" in (url_problem("http://airflow-api-server:8080/", SERVICE, name, ns) or "")
    assert "does not exist" in (url_problem("http://airflow-api-server:8080/execution/", None, name, ns) or "")


def test_execution_api(probe_for: Callable[..., Probe]) -> None:
    good = FakeCluster({"ConfigMap": [config("http://airflow-api-server:8080/execution/")], "Service": [SERVICE]})
    assert check_execution_api(probe_for("existing", good)).status == "ok"
    bad = FakeCluster({"ConfigMap": [config("http://localhost:8080/execution/")], "Service": [SERVICE]})
    finding = check_execution_api(probe_for("existing", bad))
    assert finding.status == "blocker" and "cannot report their state" in finding.message
    assert "execution_api_server_url" in finding.fix
    undeployed = check_execution_api(probe_for("existing", FakeCluster({})))
    assert undeployed.status == "blocker" and undeployed.fix.startswith("nox -s up -- --target existing")


def test_jwt_secret_reaches_both_signer_and_checker(probe_for: Callable[..., Probe]) -> None:
    good = FakeCluster({"Deployment": [workload("api-server"), workload("scheduler"), workload("triggerer", "x")]})
    finding = check_jwt(probe_for("existing", good))
    assert finding.status == "ok", finding
    other = FakeCluster({"Deployment": [workload("api-server"), workload("scheduler", "my-jwt")]})
    finding = check_jwt(probe_for("existing", other))
    assert finding.status == "blocker" and "scheduler reads my-jwt/jwt-secret" in finding.message
    missing = check_jwt(probe_for("existing", FakeCluster({"Deployment": [workload("api-server")]})))
    assert missing.status == "blocker" and "no scheduler" in missing.message
