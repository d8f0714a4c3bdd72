"""Plumbing for the cluster tests: the target they run against, and reads of its real state."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

from automation.k8s.cluster import LiveCluster, Unreachable, connect
from automation.settings import Target, load_target
from tests.conftest import REPO, need, run_cli

TARGET = os.environ.get("AUTOMATION_CLUSTER_TARGET", "")


def cluster_target() -> tuple[Target, LiveCluster]:
    need(bool(TARGET), "AUTOMATION_CLUSTER_TARGET names no target (set it to a kube-context target, e.g. ci)")
    target = load_target(TARGET)
    existing = target.existing
    state = connect(str(target.path(existing.kubeconfig)) if existing and existing.kubeconfig else None,
                    existing.context if existing else None)
    need(not isinstance(state, Unreachable), f"a reachable cluster for target {TARGET}: "
         f"{getattr(state, 'why', '')}")
    assert isinstance(state, LiveCluster)
    return target, state


# Everything the product printed during the cluster tests, for the check that no secret is in any of it.
PRINTED: list[str] = []


def cli(*args: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    result = run_cli(*args, "--target", TARGET, timeout=timeout)
    PRINTED.append(f"$ automation {' '.join(args)}\n{result.stdout}\n{result.stderr}")
    print(f"$ automation {' '.join(args)} --target {TARGET} -> {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def printed_url(stdout: str) -> tuple[str, str, str]:
    match = re.search(r"Airflow is up: (http://\S+)\s+login (\S+) / (\S+)", stdout)
    assert match, f"no URL/login line in:\n{stdout}"
    return match.group(1), match.group(2), match.group(3)


def token(url: str, username: str, password: str) -> str:
    with httpx.Client(transport=_Retry(), timeout=30) as client:
        response = client.post(f"{url}/auth/token", json={"username": username, "password": password})
    response.raise_for_status()
    return str(response.json()["access_token"])


class _Retry(httpx.HTTPTransport):
    """kubectl port-forward drops a connection now and then (and `up`'s forward restarts itself): retry
    the request, as a person would reload the page."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(6):
            try:
                return super().handle_request(request)
            except (httpx.RemoteProtocolError, httpx.ConnectError, httpx.ReadError):
                if attempt == 5:
                    raise
                time.sleep(1 + attempt)
        raise AssertionError("unreachable")


def api(url: str, bearer: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {bearer}"}, timeout=30, transport=_Retry())


def fernet_key(state: LiveCluster, target: Target) -> str:
    secret = state.get("Secret", f"{target.release}-core-secrets", target.namespace)
    assert secret is not None
    return base64.b64decode(secret["data"]["fernet-key"]).decode()


def resource_versions(state: LiveCluster, target: Target) -> dict[str, str]:
    kinds = {"Secret": [f"{target.release}-core-secrets", *target.projects],
             "ConfigMap": target.projects,
             "PersistentVolumeClaim": ["airflow-logs", "airflow-dags", "airflow-data"]}
    found = {}
    for kind, names in kinds.items():
        for name in names:
            obj = state.get(kind, name, target.namespace)
            if obj:
                found[f"{kind}/{name}"] = obj["metadata"]["resourceVersion"]
    return found


def airflow_pods(state: LiveCluster, target: Target) -> list[dict[str, Any]]:
    return [p for p in state.list("Pod", target.namespace, f"release={target.release}")
            if p.get("status", {}).get("phase") in ("Running", "Pending")]


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(2)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def lock_file(target: Target) -> Path:
    return REPO / ".state" / target.name / "lifecycle.lock"


def kubectl(target: Target, *args: str) -> subprocess.CompletedProcess[str]:
    existing = target.existing
    base = ["kubectl", "-n", target.namespace]
    if existing and existing.kubeconfig:
        base += ["--kubeconfig", str(target.path(existing.kubeconfig))]
    if existing and existing.context:
        base += ["--context", existing.context]
    return subprocess.run([*base, *args], capture_output=True, text=True, timeout=300)


def reset_external_db(target: Target) -> None:
    """An external metadata database outlives `down --purge`, its rows encrypted with the purged Fernet key: the
    next `up` of any target on it would make a new key and fail to read them. Every purge is followed by this."""
    if target.database.mode != "external":
        return
    reset_db = os.environ.get("AUTOMATION_TEST_RESET_DB")
    assert reset_db, "AUTOMATION_TEST_RESET_DB must reset the external metadata DB (see .ci/run)"
    subprocess.run(reset_db, shell=True, check=True)


def purge(run: Any, target: Target) -> None:
    """`down --purge --yes` through `run` (a module's cli function), then the external database reset: a module
    leaves nothing behind that the next one, in any order, would trip on."""
    purged = run("down", "--purge", "--yes")
    assert purged.returncode == 0, purged.stderr
    reset_external_db(target)
