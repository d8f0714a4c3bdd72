"""What the chart set for tasks to talk back to Airflow: `[core] execution_api_server_url` in the release's
airflow.cfg must name the release's API server Service and port, and the JWT secret (`[api_auth] jwt_secret`)
that signs and checks task tokens must reach the API server and the scheduler from the core Secret."""

from __future__ import annotations

import configparser
from typing import Any
from urllib.parse import urlsplit

from automation.doctor.findings import Finding, blocker, ok
from automation.doctor.probe import Probe
from automation.k8s import airflow_secrets

JWT_ENV = "AIRFLOW__API_AUTH__JWT_SECRET"
JWT_KEY = "jwt-secret"
# The components that sign (scheduler) and check (api-server) task tokens: the chart gives the secret to these.
JWT_COMPONENTS = ("api-server", "scheduler")


def airflow_cfg(probe: Probe) -> configparser.ConfigParser | None:
    live = probe.live()
    if live is None:
        return None

    def read() -> configparser.ConfigParser | None:
        cm = live.get("ConfigMap", f"{probe.target.release}-config", probe.target.namespace)
        text = ((cm or {}).get("data") or {}).get("airflow.cfg")
        if text is None:
            return None
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(text)
        return parser

    return probe.once("airflow.cfg", read)


def url_problem(url: str, service: dict[str, Any] | None, service_name: str, namespace: str) -> str | None:
    """Why `url` does not reach the API server's Service, or None when it does."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    names = {service_name, f"{service_name}.{namespace}", f"{service_name}.{namespace}.svc",
             f"{service_name}.{namespace}.svc.cluster.local"}
    if host not in names:
        return f"{url} does not name the API server's Service {service_name}"
    if service is None:
        return f"Service/{service_name} does not exist"
    ports = {p.get("port") for p in (service.get("spec") or {}).get("ports") or []}
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if port not in ports:
        return f"{url}: port {port} is not one of Service/{service_name}'s ({', '.join(map(str, sorted(ports)))})"
    if not parts.path.rstrip("/").endswith("/execution"):
        return f"{url} does not end in /execution/"
    return None


def check_execution_api(probe: Probe) -> Finding:
    target = probe.target
    live = probe.live()
    if live is None:
        return Finding("execution API", "n/a", "not checked: the cluster does not answer (see context)")
    cfg = airflow_cfg(probe)
    fix = (f"remove the override of config.core.execution_api_server_url from the values files, then "
           f"`{probe.command('up')}`")
    if cfg is None:
        return blocker("execution API", f"ConfigMap/{target.release}-config (airflow.cfg) absent: Airflow is not "
                                        "deployed", probe.command("up"))
    url = cfg.get("core", "execution_api_server_url", fallback="")
    if not url:
        return blocker("execution API", "[core] execution_api_server_url is not set: task pods cannot report",
                       fix)
    service_name = f"{target.release}-{target.ui.service}"
    problem = url_problem(url, live.get("Service", service_name, target.namespace), service_name, target.namespace)
    if problem:
        return blocker("execution API", f"{problem}: task pods cannot report their state", fix)
    return ok("execution API", f"[core] execution_api_server_url = {url} (Service/{service_name})")


def jwt_source(workload: dict[str, Any], component: str) -> tuple[str, str] | None:
    """(Secret, key) the component's own container reads the JWT secret from, None when it gets none."""
    containers = ((workload.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []
    for container in containers:
        if container.get("name") != component:
            continue
        for env in container.get("env") or []:
            if env.get("name") == JWT_ENV:
                ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
                return str(ref.get("name", "(inline value)")), str(ref.get("key", ""))
    return None


def check_jwt(probe: Probe) -> Finding:
    target = probe.target
    live = probe.live()
    if live is None:
        return Finding("JWT secret", "n/a", "not checked: the cluster does not answer (see context)")
    wanted = (airflow_secrets.core_secret_name(target), JWT_KEY)
    found: dict[str, tuple[str, str] | None] = {}
    workloads = [*live.list("Deployment", target.namespace, f"release={target.release}"),
                 *live.list("StatefulSet", target.namespace, f"release={target.release}")]
    for workload in workloads:
        component = ((workload.get("metadata") or {}).get("labels") or {}).get("component")
        if component in JWT_COMPONENTS:
            found[component] = jwt_source(workload, component)
    fix = (f"remove any override of {JWT_ENV} or [api_auth] jwt_secret and keep jwtSecretName = {wanted[0]} in the "
           f"values, then `{probe.command('up')}`")
    absent = [c for c in JWT_COMPONENTS if c not in found]
    if absent:
        return blocker("JWT secret", f"no {', '.join(absent)} in release {target.release}: Airflow is not deployed",
                       probe.command("up"))
    wrong = {c: src for c, src in found.items() if src != wanted}
    if wrong:
        shown = "; ".join(f"{c} reads {'/'.join(src) if src else 'none'}" for c, src in sorted(wrong.items()))
        return blocker("JWT secret", f"{shown} (expected Secret/{wanted[0]} key {JWT_KEY}): task tokens would be "
                                     "refused", fix)
    return ok("JWT secret", f"api-server and scheduler both read {JWT_ENV} from Secret/{wanted[0]} key {JWT_KEY}")
