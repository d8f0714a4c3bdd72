"""`status` on a cluster this machine reaches: namespace, volumes, secrets, the Helm release, pods, the UI."""

from __future__ import annotations

from typing import TYPE_CHECKING

from automation.k8s import airflow_secrets
from automation.k8s.apply import listed
from automation.k8s.cluster import LiveCluster
from automation.k8s.ready import component_status

if TYPE_CHECKING:
    from automation.providers.base import Provider


def cluster_rows(provider: Provider) -> dict[str, str]:
    target = provider.target
    state = provider.state()
    rows: dict[str, str] = {}
    ns = state.get("Namespace", target.namespace)
    rows["namespace"] = f"{target.namespace}: {'present' if ns else 'absent'}"
    vols = []
    for volume in provider.volumes():
        claim = state.get("PersistentVolumeClaim", volume.name, target.namespace)
        vols.append(f"{volume.name} {(claim or {}).get('status', {}).get('phase', 'absent')}")
    rows["volumes"] = ", ".join(vols) or "-"
    # One list per namespace, not one read per project: Airflow's secret and the projects' (where task pods run).
    project_ns = provider.task_pod_facts().namespace
    held = {ns: set(listed(state, "Secret", ns)) for ns in {target.namespace, project_ns}}
    wanted = [(target.namespace, airflow_secrets.core_secret_name(target)), *((project_ns, p) for p in target.projects)]
    names = [name for _, name in wanted]
    present = [name for ns, name in wanted if name in held[ns]]
    rows["secrets"] = f"present: {', '.join(present) or 'none'}" + (
        f"; absent: {', '.join(sorted(set(names) - set(present)))}" if set(names) - set(present) else "")
    release = provider.cluster.helm().release() if provider.cluster is not None and state.reachable else None
    rows["release"] = (f"{release.name} revision {release.revision}, {release.status}, chart {release.chart_version}"
                       if release else "not installed")
    if isinstance(state, LiveCluster):
        comps = component_status(state, target)
        rows["pods ready"] = ", ".join(f"{c} {r}/{d}" for c, (r, d) in sorted(comps.items())) or "none"
    else:
        rows["pods ready"] = "cluster unreachable"
    forward = provider.deployer.ui_forward
    url = forward.url() if forward is not None else None
    rows["ui"] = url or f"not forwarded (`{target.command('up')}` opens it)"
    return rows
