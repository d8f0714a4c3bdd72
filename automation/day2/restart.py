"""`restart [COMPONENT...]`: roll the components' pods (`kubectl rollout restart`) and wait until every component
is ready again. Nothing else is touched: no Helm upgrade, no object applied, Secrets and claims as they were."""

from __future__ import annotations

from automation.core.errors import UserError
from automation.day2.components import composer_where, kubectl, resolve
from automation.k8s.cluster import LiveCluster
from automation.k8s.ready import wait_ready
from automation.providers import Provider

# What Composer's restartWebServer restarts, by the chart's component names (Airflow 2 and 3).
WEB_SERVER = ("api-server", "webserver")


def restart(provider: Provider, names: list[str], timeout: int) -> None:
    if provider.cluster is None:  # Cloud Composer: no kubectl access to Airflow's pods
        _restart_web_server(provider, names, timeout)
        return
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


def _restart_web_server(provider: Provider, names: list[str], timeout: int) -> None:
    """Composer's API restarts the web server only (gcloud has it in beta); the other components are Composer's to
    restart, which it does itself on an environment update."""
    others = [n for n in names if n not in WEB_SERVER]
    if others:
        raise UserError(f"Cloud Composer restarts only its web server on request, not {', '.join(others)}",
                        "name api-server (or nothing); Composer restarts the other components itself when "
                        "`up` updates the environment")
    with provider.runner.step("restart the web server (gcloud beta: no GA command for it)"):
        provider.runner.run(["gcloud", "beta", "composer", "environments", "restart-web-server",
                             *composer_where(provider).split()], timeout=timeout + 60, heartbeat=30,
                            fix=f"check the environment is RUNNING: {provider.target.command('status')}")
