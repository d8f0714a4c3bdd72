"""How a target's Airflow is deployed and then reached: one `Deployer` per kind of installation, chosen when the
provider is made (Helm's chart on a cluster we reach; Cloud Composer's managed environment).

`up` asks the deployer for a `Deployment` first (every input read, typed, before anything is made: a bad file
stops `up` with nothing changed), applies it after the cluster's objects exist, then waits for Airflow and gets
its URL."""

from __future__ import annotations

import copy
import tempfile
from contextlib import closing
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import yaml

from automation.airflow.endpoint import Endpoint
from automation.core.errors import UserError
from automation.k8s.apply import ensure
from automation.k8s.cluster import LiveCluster
from automation.k8s.helm import ChartRef, Helm, chart_ref
from automation.k8s.port_forward import PortForward, pick_port
from automation.k8s.ready import components, old_pods_gone, wait_ready
from automation.providers.airflow_upgrade import (
    metadata_database,
    previous_versions,
    record,
    stop_airflow,
    stop_migrations,
    upgrade_safely,
    version_change,
)
from automation.providers.cluster import Cluster
from automation.providers.helm_status import cluster_rows
from automation.providers.upgrade_verify import Kept, check_api, decrypted_connections, read_kept

if TYPE_CHECKING:
    from automation.providers.base import Provider, UpOptions

UI_FORWARD = "port-forward"


class Deployment(Protocol):
    """A deployment read and ready to apply."""

    @property
    def title(self) -> str: ...

    @property
    def inputs(self) -> Any:
        """Everything read to make it, as plain data (what a remembered check's fingerprint covers)."""
        ...

    def component_env(self) -> tuple[dict[str, str], str]:
        """The environment Airflow's components get from it (literal values only), and where that was read;
        reads only."""
        ...

    def manifests(self) -> list[dict[str, Any]]:
        """The Kubernetes objects it makes in a cluster of ours (none when Google runs Airflow); reads only."""
        ...

    def apply(self) -> str:
        """Deploy; 'unchanged' or why it changed."""
        ...


class CloudSide(Protocol):
    """What a target needs on its cloud besides the cluster (buckets, identities, registries), converged before
    anything else by `up` (alone with --cloud-only)."""

    title: str

    def ensure(self, deployment: Deployment) -> dict[str, str]:
        """Each piece read first, made only when missing; the outcome per piece."""
        ...

    def problems(self, deployment: Deployment) -> list[str]:
        """Where the deployment and the cloud side would not fit (the parity check's lines); reads only."""
        ...


class Deployer(Protocol):
    @property
    def ui_forward(self) -> PortForward | None:
        """The port-forward that reaches Airflow's UI and API from here; None: Airflow serves its own URL."""
        ...

    def api_endpoint(self) -> Endpoint | None:
        """Airflow's API reached directly, with the sign-in the installation requires (Composer: its airflowUri
        and a Google access token); None: through `ui_forward`, signed in with the target's login."""
        ...

    def prepare(self, options: UpOptions) -> Deployment: ...

    def wait_and_open(self, options: UpOptions, report: dict[str, Any]) -> str:
        """Wait until Airflow serves, open what reaches it; its UI's URL."""
        ...

    def status_rows(self) -> dict[str, str]:
        """`status`'s rows after target, cluster and mounts, read only."""
        ...

    def open_ui(self, port: int | None) -> str:
        """What reaches Airflow's UI from here, opened when it is not (a stopped port-forward is started again):
        its URL. `port`: the local port asked for, if any."""
        ...


@dataclass(frozen=True)
class HelmRelease:
    """The official chart at a version with the merged values (they may hold the UI password)."""

    provider: Provider
    cluster: Cluster
    chart: ChartRef
    values: dict[str, Any]

    @property
    def title(self) -> str:
        return (f"Helm release {self.provider.target.release} (chart {self.chart.version}, "
                f"Airflow {self.values['airflowVersion']})")

    @property
    def inputs(self) -> dict[str, Any]:
        return self.values

    def manifests(self) -> list[dict[str, Any]]:
        """The chart's manifests with these values; `up` asks three times (the cloud side, the parity check, the
        components' environment), the chart is rendered once."""
        return copy.deepcopy(self._rendered)

    @cached_property
    def _rendered(self) -> list[dict[str, Any]]:
        # `helm template` reads only and prints nothing; the values go through a private file gone after it.
        with tempfile.TemporaryDirectory(prefix="automation-values-") as folder:
            values_file = Path(folder) / "values.yaml"
            values_file.write_text(yaml.safe_dump(self.values, sort_keys=True))
            return Helm(self.provider.runner, self.provider.target, self.cluster.kube_args()).template(self.chart,
                                                                                                       values_file)

    def component_env(self) -> tuple[dict[str, str], str]:
        """The scheduler container's environment in the rendered chart (with a local chart and helm), else the
        values' own env list."""
        runner = self.provider.runner
        if self.chart.local_path is not None and runner.which("helm"):
            for doc in self.manifests():
                if doc.get("kind") == "Deployment" and \
                        (doc["metadata"].get("labels") or {}).get("component") == "scheduler":
                    container = next(c for c in doc["spec"]["template"]["spec"]["containers"]
                                     if c["name"] == "scheduler")
                    env = {e["name"]: str(e["value"]) for e in container.get("env") or [] if "value" in e}
                    return env, "the rendered chart's scheduler container"
        env = {e["name"]: str(e["value"]) for e in self.values.get("env") or []}
        return env, "the chart values' env (no local chart to render)"

    def apply(self) -> str:
        provider = self.provider
        runner, target = provider.runner, provider.target
        helm = self.cluster.helm()
        release = helm.release()
        if release is not None and release.pending:
            runner.say(f"    release left {release.status} by an interrupted run: recovering")
            helm.recover(release)
            release = helm.release()
        reason = helm.needs_upgrade(release, self.values)
        state = self.cluster.state()
        kept = record(target, self.values).render()
        if reason is None:
            runner.ok(f"release {target.release} revision {release.revision if release else '?'} "
                      "already runs this chart with these values")
            if isinstance(state, LiveCluster):
                ensure(runner, state, kept)
            return "unchanged"
        runner.say(f"    upgrade needed: {reason}")
        values_file = provider.write_values(self.values)
        recorded = state.get("ConfigMap", kept["metadata"]["name"], target.namespace) \
            if isinstance(state, LiveCluster) else None
        change = version_change(previous_versions(release, helm.deployed_values() if release else None, recorded),
                                self.values, target.chart.version)
        if change is None or runner.server_dry_run:
            helm.upgrade(self.chart, values_file)
        else:
            before = self._kept() if release is not None and release.status == "deployed" and not change.downgrade \
                else None
            reason = upgrade_safely(
                provider, release, change, metadata_database(provider, self.cluster),
                upgrade=lambda: helm.upgrade(self.chart, values_file), verify=lambda: self._verify(before),
                stop=self._stop,
                rollback=lambda revision: helm.rollback(revision) if revision else helm.uninstall())
        if isinstance(state, LiveCluster):
            ensure(runner, state, kept)
        if runner.server_dry_run:
            state = self.cluster.state()
            if not isinstance(state, LiveCluster):
                raise UserError(f"--dry-run=server needs the cluster, which does not answer ({state.why})",
                                f"check the target's cluster (`{provider.target.command('status')}`), or use --dry-run")
            helm.validate(self.chart, values_file, state)
        return reason

    def _stop(self) -> None:
        """Before a failed upgrade's backup is restored: the migration Jobs (a failed or timed-out one would migrate
        the backup again) and every Airflow component (the new version's pods would write to it)."""
        state = self.cluster.state()
        if not isinstance(state, LiveCluster):
            raise UserError(f"the cluster does not answer, so Airflow could not be stopped before the restore "
                            f"({state.why}); the backup was not restored",
                            "restore it by hand once the cluster answers: docs/how-to/upgrading.md")
        say = self.provider.runner.say
        for job in stop_migrations(state, self.provider.target):
            say(f"    stopped: Job/{job} and its pods")
        if stopped := stop_airflow(state, self.provider.target):
            say(f"    stopped until the rollback makes them again: {', '.join(stopped)}")

    def _kept(self) -> Kept | None:
        """What the running version has that the upgrade must keep, read through its API; None when it does not
        answer (then only Ready is verified, and the output says so)."""
        from automation.providers.airflow_endpoint import endpoint, temporary_forward

        runner = self.provider.runner
        if runner.dry_run:
            runner.plan("read the DAG list and the last finished task through the API, to check them after")
            return None
        try:
            with runner.step("what the upgrade must keep (DAG list, last task's log)"), \
                    temporary_forward(runner, self.provider) as url, \
                    closing(endpoint(self.provider, url, connect_timeout=30).connect()) as api:
                kept = read_kept(api)
        except UserError as unread:
            runner.say(f"    the running version's API cannot be read ({unread.problem[:160]}): after the upgrade "
                       "only the components' readiness and the connections are verified")
            return None
        last = kept.last_task.name if kept.last_task else "no task has run yet"
        runner.ok(f"{len(kept.dags)} DAGs; last finished task: {last}")
        return kept

    def _verify(self, kept: Kept | None = None) -> None:
        """After an upgrade (or its rollback): every component Ready on the new spec; then, through the version
        that now runs, the DAG list and the last task's log as before and every connection decrypted."""
        from automation.providers.airflow_endpoint import endpoint, temporary_forward

        provider = self.provider
        runner, target = provider.runner, provider.target
        state = self.cluster.state()
        if not isinstance(state, LiveCluster):
            raise UserError(f"the cluster does not answer after the upgrade ({state.why})")
        # A version change restarts every component after a migration: never less than 5 minutes for that.
        wait_ready(runner, state, target, timeout=max(target.ready_timeout, 300))
        with runner.step("what the upgrade had to keep, through the version that runs now"):
            checked = []
            if kept is not None:
                # A port-forward keeps the pod it opened to: the replaced API server's must be gone first.
                old_pods_gone(runner, state, target, "api-server")
                with temporary_forward(runner, provider) as url, closing(endpoint(provider, url).connect()) as api:
                    checked.append(check_api(api, kept))
            checked.append(f"{decrypted_connections(provider, self.cluster, state)} connections decrypted")
            runner.ok(f"verified: {', '.join(checked)}")


class HelmDeployer:
    """Airflow from the official chart, installed or upgraded with Helm; reached through a port-forward."""

    def __init__(self, provider: Provider, cluster: Cluster):
        self.provider = provider
        self.cluster = cluster

    @property
    def ui_forward(self) -> PortForward:
        target = self.provider.target
        return PortForward(UI_FORWARD, self.provider.state_dir(), tuple(self.cluster.kubectl_args()), target.namespace,
                           f"{target.release}-{target.ui.service}")

    def api_endpoint(self) -> None:
        return None

    def status_rows(self) -> dict[str, str]:
        return cluster_rows(self.provider)

    def prepare(self, options: UpOptions) -> HelmRelease:
        return HelmRelease(self.provider, self.cluster, chart_ref(self.provider.target),
                           self.provider.merged_values(options))

    def wait_and_open(self, options: UpOptions, report: dict[str, Any]) -> str:
        """Wait for Airflow's components, then open (or reuse) the UI's port-forward."""
        provider = self.provider
        runner, target = provider.runner, provider.target
        forward = self.ui_forward
        preferred = options.port or target.ui.port
        if runner.dry_run or options.no_wait:
            with runner.step("UI"):
                runner.plan(f"port-forward svc/{forward.service} to localhost:{preferred} (supervised, background)")
            return f"http://localhost:{preferred}"
        state = self.cluster.state()
        assert isinstance(state, LiveCluster)  # `ensure_objects` stopped `up` on an unreachable cluster
        with runner.step(f"waiting for {', '.join(components(target))}"):
            report["ready_seconds"] = wait_ready(runner, state, target)
        with runner.step("UI"):
            return self.open_ui(options.port)

    def open_ui(self, port: int | None) -> str:
        runner, forward = self.provider.runner, self.ui_forward
        preferred = port or self.provider.target.ui.port
        if runner.dry_run:
            runner.plan(f"port-forward svc/{forward.service} to localhost:{preferred} (supervised, background), "
                        "unless one answers already")
            return f"http://localhost:{preferred}"
        # A forward keeps the pod it opened to: one opened before a rollout may still reach a replaced pod.
        state = self.cluster.state()
        rolled = isinstance(state, LiveCluster) and old_pods_gone(runner, state, self.provider.target, "api-server")
        url = forward.healthy_url()
        if url and not rolled:
            runner.ok(f"port-forward already running (pid {forward.process.pid()})")
            return url
        if url:
            return forward.start(runner, int(url.rsplit(":", 1)[1]))
        return forward.start(runner, pick_port(preferred, explicit=port is not None))
