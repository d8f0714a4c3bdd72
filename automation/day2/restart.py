"""`restart [COMPONENT...]`: roll the components' pods (`kubectl rollout restart`) and wait until every component
is ready again. Nothing else is touched: no Helm upgrade, no object applied, Secrets and claims as they were."""

from __future__ import annotations

from automation.day2.components import cluster_only, composer_where, kubectl, resolve
from automation.k8s.cluster import LiveCluster
from automation.k8s.ready import wait_ready
from automation.providers import Provider


def restart(provider: Provider, names: list[str], timeout: int) -> None:
    cluster_only(provider, "restarting Airflow's components",
                 f"gcloud beta composer environments restart-web-server {composer_where(provider)} (beta) for the web "
                 "server; "
                 "Composer restarts the other components itself on an environment update")
    runner, target = provider.runner, provider.target
    components = resolve(provider, names)
    base = kubectl(provider)
    with runner.step(f"restart {', '.join(c.name for c in components)}"):
        runner.run([*base, "rollout", "restart", *(c.ref for c in components)])
    with runner.step("wait until every replica runs the new pods"):
        for component in components:
            runner.run([*base, "rollout", "status", component.ref, f"--timeout={timeout}s"], timeout=timeout + 60,
                       stream=True)
        state = provider.state()
        if isinstance(state, LiveCluster) and not runner.dry_run:
            wait_ready(runner, state, target, timeout=timeout)
