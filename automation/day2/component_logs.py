"""`logs COMPONENT...`: the logs of Airflow's components, every replica, each line prefixed with its pod."""

from __future__ import annotations

from dataclasses import dataclass

from automation.day2.components import cluster_only, composer_where, kubectl, resolve
from automation.providers import Provider


@dataclass
class LogOptions:
    follow: bool = False
    tail: int = 100
    since: str | None = None
    all_containers: bool = False


def component_logs(provider: Provider, names: list[str], opts: LogOptions) -> int:
    """kubectl logs over the chart's labels: all replicas of the components (all components when none is named);
    one component shows its own container, several (or --all-containers) every container of their pods."""
    project = provider.target.composer.project if provider.target.composer else "PROJECT"
    cluster_only(provider, "logs of Airflow's components",
                 f"gcloud logging read 'resource.type=\"cloud_composer_environment\"' --project {project} "
                 f"(or the environment's Logs tab; environment {composer_where(provider)})")
    components = resolve(provider, names)
    target = provider.target
    if len(components) == 1:
        selector = f"release={target.release},component={components[0].name}"
    else:
        selector = f"release={target.release},component in ({','.join(c.name for c in components)})"
    cmd = [*kubectl(provider), "logs", "-l", selector, "--prefix", f"--tail={opts.tail}",
           f"--max-log-requests={max(10, 2 * len(components))}"]
    if len(components) == 1 and not opts.all_containers:
        cmd += ["-c", components[0].container]
    else:
        cmd.append("--all-containers")
    if opts.since:
        cmd.append(f"--since={opts.since}")
    if opts.follow:
        cmd.append("--follow")
    return provider.runner.attached(cmd)
