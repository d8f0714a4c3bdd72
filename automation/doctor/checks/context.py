"""The kube context the target names, whether its API server answers, and kubectl's skew against it."""

from __future__ import annotations

from automation.doctor.checks.tools import client_version, skew
from automation.doctor.findings import Finding, blocker, ok, warn
from automation.doctor.probe import Probe
from automation.k8s.cluster import Unreachable


def server_version(probe: Probe) -> str | None:
    live = probe.live()
    if live is None:
        return None

    def ask() -> str | None:
        from kubernetes import client

        try:
            return str(client.VersionApi(live.api_client).get_code(_request_timeout=5).git_version)
        except Exception:
            return None

    return probe.once("server-version", ask)


def check_context(probe: Probe) -> Finding:
    provider = probe.provider
    where = f"context {provider.context() or '(current)'}" + (
        f" of {provider.kubeconfig()}" if provider.kubeconfig() else "")
    state = probe.state()
    if isinstance(state, Unreachable):
        fix = provider.unreachable_fix(probe.command("up"), probe.command("status"))
        return blocker("context", f"{where}: not reachable ({state.why})", fix)
    server = server_version(probe)
    message = f"{where}: {state.api_client.configuration.host} answers" + (f", server {server}" if server else "")
    kubectl = client_version(probe, "kubectl")
    why = skew(kubectl, server) if kubectl and server else None
    if why:
        return warn("context", f"{message}; {why}",
                    "run `nox -s tools` (the pinned kubectl), or install a kubectl within one "
                    f"minor version of {server}")
    return ok("context", message + (f", kubectl {kubectl} within the supported skew" if kubectl and server else ""))
