"""A running release moved to another Airflow (or chart) version with nothing lost.

`up` sees the change in the values it is about to apply. A downgrade is refused: Airflow's migrations only go
forward from `up` (a database migrated by the newer version does not run under the older one). Otherwise the
metadata database is backed up first, Helm upgrades (the chart's migration job runs as its post-upgrade hook, so
a failed migration fails the upgrade), and the components must then be Ready. When any of that fails, every
Airflow component is stopped, the backup is restored, the release goes back to its previous revision, and the old
version must be Ready again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import InvalidVersion, Version

from automation.core.errors import UserError
from automation.k8s.airflow_secrets import external_db_url
from automation.k8s.cluster import LiveCluster
from automation.k8s.helm import Release
from automation.k8s.metadata_db import ChartDatabase, ExternalDatabase, MetadataDatabase
from automation.k8s.objects import ConfigMap
from automation.k8s.ready import COMPONENTS
from automation.settings.model import Target

if TYPE_CHECKING:
    from automation.providers.base import Provider
    from automation.providers.cluster import Cluster


@dataclass(frozen=True)
class VersionChange:
    airflow_from: str
    airflow_to: str
    chart_from: str
    chart_to: str

    @property
    def downgrade(self) -> bool:
        try:
            return Version(self.airflow_to) < Version(self.airflow_from)
        except InvalidVersion:
            return False

    @property
    def line(self) -> str:
        parts = []
        if self.airflow_from != self.airflow_to:
            parts.append(f"Airflow {self.airflow_from} -> {self.airflow_to}")
        if self.chart_from != self.chart_to:
            parts.append(f"chart {self.chart_from} -> {self.chart_to}")
        return ", ".join(parts)


def record(target: Target, values: dict[str, Any]) -> ConfigMap:
    """What runs, kept beside the release: after `down` (which removes the release, and Helm's history with it,
    but keeps the database) the next `up` still knows what version the database was migrated by."""
    return ConfigMap(f"{target.release}-deployed-versions", target.namespace,
                     {"airflow": str(values.get("airflowVersion") or ""), "chart": target.chart.version})


def previous_versions(release: Release | None, deployed: dict[str, Any] | None,
                      recorded: dict[str, Any] | None) -> tuple[str, str] | None:
    """(Airflow, chart) of what ran last: the deployed release's, else the record `up` left; None when neither
    (a first install, or an environment made before the record existed and since taken down)."""
    if release is not None and release.status == "deployed" and deployed and deployed.get("airflowVersion"):
        return str(deployed["airflowVersion"]), release.chart_version
    data = (recorded or {}).get("data") or {}
    if data.get("airflow"):
        return str(data["airflow"]), str(data.get("chart") or "")
    return None


def version_change(previous: tuple[str, str] | None, values: dict[str, Any],
                   chart_version: str) -> VersionChange | None:
    """What moves when `values` are applied; None for a first install or the same versions."""
    if previous is None:
        return None
    airflow_from, chart_from = previous
    airflow_to = str(values.get("airflowVersion") or "")
    if airflow_from == airflow_to and chart_from == chart_version:
        return None
    return VersionChange(airflow_from, airflow_to, chart_from, chart_version)


def metadata_database(provider: Provider, cluster: Cluster) -> MetadataDatabase:
    target = provider.target
    if target.database.mode == "external":
        return ExternalDatabase(provider.runner, external_db_url(target))
    return ChartDatabase(provider.runner, target, tuple(cluster.kubectl(target.namespace)))


def backup_file(provider: Provider, change: VersionChange, revision: str | None) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return provider.state_dir() / "backups" / f"{stamp}-airflow-{change.airflow_from}-{revision or 'empty'}.sql"


# The chart's migration Job (a post-upgrade hook; Helm leaves a failed or timed-out one in place).
MIGRATION_COMPONENT = "run-airflow-migrations"
# What runs Airflow's code against the metadata database (the chart's `component` labels; `worker` also labels
# the KubernetesExecutor's worker pods). Redis, StatsD and PgBouncer hold no Airflow state and keep running.
AIRFLOW_COMPONENTS = (*COMPONENTS, "worker")


def _delete_pods_until_gone(state: LiveCluster, namespace: str, selector: str, what: str, timeout: float) -> None:
    """Delete the pods `selector` matches without a grace period, until none is left: pods of a version being
    undone must not write to the database while its backup is restored."""
    deadline = time.monotonic() + timeout
    while pods := [pod["metadata"]["name"] for pod in state.list("Pod", namespace, selector)]:
        if time.monotonic() > deadline:
            raise UserError(f"the {what} pods {', '.join(pods)} were still there {timeout:.0f}s after their "
                            "deletion: the database was not restored, so that they cannot write to it again",
                            f"delete them (kubectl delete pod -n {namespace} {' '.join(pods)} --force), then "
                            f"restore the backup by hand: docs/how-to/upgrading.md")
        for name in pods:
            state.delete("Pod", name, namespace, grace_seconds=0)
        time.sleep(1)


def stop_migrations(state: LiveCluster, target: Target, timeout: float = 120) -> list[str]:
    """Delete the release's migration Jobs and their pods, and wait until the pods are gone: the names deleted.

    Before a backup is restored: a migration Job that timed out is still running, and one that failed is retried
    (backoffLimit); either would migrate the restored database again, to the version just rolled back. A batch/v1
    Job's own default on deletion orphans its pods, so they are deleted by name, without a grace period."""
    selector = f"component={MIGRATION_COMPONENT},release={target.release}"
    jobs = [job["metadata"]["name"] for job in state.list("Job", target.namespace, selector)]
    for name in jobs:
        state.delete("Job", name, target.namespace)
    _delete_pods_until_gone(state, target.namespace, selector, "migration", timeout)
    return jobs


def stop_airflow(state: LiveCluster, target: Target, timeout: float = 120) -> list[str]:
    """Delete the release's Airflow workloads (Deployments, StatefulSets) and wait until none of their pods is
    left: `KIND/NAME` of each deleted.

    Before a backup is restored: a migration that completed lets the new version's pods start, and a rollback alone
    replaces them only once the old version is Ready, which needs the restored database. The rollback makes the
    workloads again from the previous revision. They are deleted rather than scaled to 0: a scale is a change
    of another field manager, and Helm 4's server-side apply then refuses the rollback over spec.replicas."""
    stopped = []
    for kind in ("Deployment", "StatefulSet"):
        for obj in state.list(kind, target.namespace, f"release={target.release}"):
            if (obj["metadata"].get("labels") or {}).get("component") in AIRFLOW_COMPONENTS:
                state.delete(kind, obj["metadata"]["name"], target.namespace)
                stopped.append(f"{kind}/{obj['metadata']['name']}")
    selector = f"release={target.release},component in ({','.join(AIRFLOW_COMPONENTS)})"
    _delete_pods_until_gone(state, target.namespace, selector, "Airflow", timeout)
    return stopped


def upgrade_safely(provider: Provider, release: Release | None, change: VersionChange, database: MetadataDatabase,
                   *, upgrade: Callable[[], None], verify: Callable[[], None], stop: Callable[[], None],
                   rollback: Callable[[int | None], None]) -> str:
    """Refuse a downgrade, back up, upgrade, verify; on a failure stop everything that uses the database, restore
    it, then roll back to the release's revision (None: the release was not installed, and is removed again). Why
    it changed."""
    runner, target = provider.runner, provider.target
    runner.say(f"    version change: {change.line}")
    try:
        revision = database.revision()
    except UserError:
        if not runner.dry_run:
            raise
        revision = "(unread in a dry run)"
    if revision is None:  # no Airflow tables: nothing to keep, nothing a downgrade could break
        runner.say("    the metadata database has no Airflow schema yet: nothing to back up")
        upgrade()
        return change.line
    if change.downgrade:
        raise UserError(f"refusing to downgrade Airflow {change.airflow_from} -> {change.airflow_to}: the metadata "
                        f"database is at revision {revision} (Airflow {change.airflow_from}'s schema), which "
                        f"{change.airflow_to} cannot run",
                        f"set airflow_version back to {change.airflow_from}; nothing was changed")
    backup = backup_file(provider, change, revision)
    with runner.step(f"backup of {database.where} (schema revision {revision}) to {backup}"):
        database.backup(backup)
    if runner.dry_run:
        back = f"helm rollback {target.release} {release.revision}" if release else f"helm uninstall {target.release}"
        runner.plan(f"upgrade ({change.line}); the components Ready; on a failure: {back}, then the database "
                    "restored from the backup")
        upgrade()
        return change.line
    try:
        upgrade()
        verify()
    except UserError as failure:
        runner.say(f"    upgrade failed: {failure.problem}")
        previous = release.revision if release else None
        before = (f"revision {previous} (Airflow {change.airflow_from})" if previous
                  else "not installed, as before")
        with runner.step(f"Airflow stopped, the database restored from {backup}, the release back to {before}"):
            stop()  # nothing of either version may write while the backup is restored
            database.restore(backup)
            rollback(previous)
            undone = f"release {target.release} is back at {before}"
            try:
                if previous:
                    verify()
            except UserError as still:
                raise UserError(f"the upgrade ({change.line}) failed ({failure.problem[:160]}); {undone} and its "
                                f"database restored from {backup}, but it is not Ready: {still.problem}",
                                f"see the pods: `{target.command('status')}`") from None
        ready = ", Ready," if previous else ""
        raise UserError(f"the upgrade ({change.line}) failed and was undone: {undone}{ready} with its database "
                        f"restored from {backup}; nothing was lost",
                        "read why above (the line \"upgrade failed: ...\"), fix it, then "
                        f"`{target.command('up')}` again") from None
    runner.ok(f"upgraded ({change.line}); the backup stays in {backup}")
    return change.line
