"""`status`: one table of the target's state, read only."""

from __future__ import annotations

import json
from typing import Any

from automation.core.hints import nox_command
from automation.core.runner import Runner
from automation.k8s import airflow_secrets
from automation.k8s.apply import listed
from automation.k8s.cluster import LiveCluster
from automation.k8s.ready import component_status
from automation.providers import Provider, provider_for
from automation.providers.composer import WORKLOAD_GROUP, ComposerProvider, software_config
from automation.settings.model import Target


def status(runner: Runner, target: Target, as_json: bool = False) -> dict[str, Any]:
    out = runner.out
    if as_json:  # what runs on the way (GKE's get-credentials, a warning) stays off the JSON
        runner.out = runner.err
    try:
        provider = provider_for(runner, target)
        rows: dict[str, Any] = {"target": f"{target.name} ({provider.kind})", "cluster": provider.cluster_summary(),
                                "mounts": provider.mounts_summary()}
        if isinstance(provider, ComposerProvider):
            rows.update(composer_rows(provider))
        else:
            rows.update(cluster_rows(provider))
    finally:
        runner.out = out
    if as_json:
        runner.say(json.dumps(rows, indent=2))
    else:
        width = max(len(k) for k in rows)
        for key, value in rows.items():
            runner.say(f"{key:<{width}}  {value}")
    return rows


def composer_rows(provider: ComposerProvider) -> dict[str, str]:
    """Google runs the cluster: the environment as its API shows it, what `up` sets there, its Airflow's URL."""
    env = provider.describe()
    if env is None:
        return {"environment": f"not readable (`{provider.describe_command()}`)"}
    config = env.get("config") or {}
    software = software_config(env)
    differ = provider.variables_differing(env)
    rows = {"environment": f"{env.get('state', '?')}, {software.get('imageVersion', '?')}",
            "task facts": "AUTOMATION_* as `up` sets them" if not differ else
            f"{len(differ)} differ from the settings ({', '.join(differ)}): `up` sets them"}
    for kind, group in WORKLOAD_GROUP.items():
        listed_here = provider.runner.try_read(["gcloud", "composer", "environments", group, "list",
                                                *provider.where(), "--format=json"], timeout=120)
        names = {str(item.get("name", "")).rsplit("/", 1)[-1]
                 for item in (json.loads(listed_here.stdout or "[]") if listed_here else [])}
        wanted = [obj.name for obj in provider.project_objects() if type(obj).__name__ == kind]
        missing = sorted(set(wanted) - names)
        rows[f"{kind}s"] = f"present: {', '.join(n for n in wanted if n in names) or 'none'}" + (
            f"; absent: {', '.join(missing)}" if missing else "")
    rows["ui"] = str(config.get("airflowUri") or "not shown")
    return rows


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
    rows["ui"] = url or f"not forwarded (`{nox_command('up', target.name)}` opens it)"
    return rows
