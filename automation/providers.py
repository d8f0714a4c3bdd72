"""Where the cluster comes from: Minikube (started and mounted here) or an existing kube context."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from automation import desired
from automation.errors import UserError
from automation.kube import ClusterState, LiveCluster, Unreachable, connect, wait_for_pod
from automation.manifests import ConfigMap, NodeFolderJob
from automation.runner import Runner
from automation.settings import REPO_ROOT, Target

STATE_ROOT = REPO_ROOT / ".state"


def state_dir(target: Target) -> Path:
    path = STATE_ROOT / target.name
    path.mkdir(parents=True, exist_ok=True)
    return path


def host_memory_mb() -> int:
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    return 0


@dataclass
class Background:
    """A process `up` leaves running (a mount, a port-forward), remembered by a pid file."""

    pidfile: Path

    def pid(self) -> int | None:
        try:
            pid = int(self.pidfile.read_text().split()[0])
            os.kill(pid, 0)
            return pid
        except (OSError, ValueError, IndexError):
            return None

    def start(self, runner: Runner, cmd: list[str], log: Path) -> None:
        if runner.dry_run:
            runner.run(cmd)  # printed only
            return
        runner.say(f"    $ {' '.join(cmd)} &  (log: {log.relative_to(REPO_ROOT)})")
        with open(log, "ab") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        self.pidfile.write_text(f"{proc.pid} {' '.join(cmd)}\n")

    def stop(self, runner: Runner) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        runner.plan(f"stop pid {pid} ({self.pidfile.stem})")
        if not runner.dry_run:
            os.killpg(pid, signal.SIGTERM)
            self.pidfile.unlink(missing_ok=True)
        return True


class Provider:
    binaries: tuple[str, ...] = ("kubectl", "helm")

    def __init__(self, runner: Runner, target: Target):
        self.runner = runner
        self.target = target

    # Which cluster: the kubeconfig and context that kubectl, helm and the client use.
    def kubeconfig(self) -> str | None:
        return None

    def context(self) -> str | None:
        return None

    def kube_args(self) -> list[str]:
        args = []
        if self.kubeconfig():
            args += ["--kubeconfig", str(self.kubeconfig())]
        if self.context():
            args += ["--kube-context", str(self.context())]
        return args

    def kubectl_args(self) -> list[str]:
        return [a.replace("--kube-context", "--context") for a in self.kube_args()]

    def state(self) -> LiveCluster | Unreachable:
        # Connecting runs the API discovery (about a second): once per command is enough. A cluster that did
        # not answer is asked again (it may just have been started).
        cached = getattr(self, "_state", None)
        if cached is None:
            cached = connect(self.kubeconfig(), self.context())
            if isinstance(cached, LiveCluster):
                self._state = cached
        return cached

    def ensure_cluster(self) -> None:
        raise NotImplementedError

    def ensure_mounts(self) -> None:
        """Nothing to do unless the provider mounts host folders itself."""

    def ensure_node_folders(self, state: ClusterState) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def purge(self, state: ClusterState) -> None:
        raise NotImplementedError

    def cluster_summary(self) -> str:
        raise NotImplementedError

    def mounts_summary(self) -> str:
        if self.target.mounts is None:
            return "-"
        m = self.target.mounts
        return f"dags {m.dags.host} -> {m.dags.node}; data {m.data.host} -> {m.data.node}"


class MinikubeProvider(Provider):
    binaries = ("minikube", "kubectl", "helm", "docker")

    @property
    def profile(self) -> str:
        assert self.target.minikube is not None
        return self.target.minikube.profile

    def context(self) -> str | None:
        return self.profile  # minikube names the context after the profile

    def _status(self) -> dict[str, str] | None:
        result = self.runner.try_read(["minikube", "status", "-p", self.profile, "-o", "json"], timeout=60)
        if result is None:
            return None
        try:
            data = json.loads(result.stdout)
        except json.JSONDecodeError:
            return None
        return data[0] if isinstance(data, list) and data else data

    def check_resources(self) -> None:
        mk = self.target.minikube
        assert mk is not None
        cpus, memory = os.cpu_count() or 1, host_memory_mb()
        problems = []
        if mk.cpus > cpus:
            problems.append((f"minikube.cpus is {mk.cpus} but this machine has {cpus} CPUs",
                             f"lower it with --cpus {cpus} or in targets.{self.target.name}.minikube.cpus"))
        if memory and mk.memory_mb > memory:
            problems.append((f"minikube.memory_mb is {mk.memory_mb} but this machine has {memory} MB",
                             f"lower it with --memory {memory // 2} or in targets.{self.target.name}.minikube"))
        for problem, fix in problems:
            if self.runner.dry_run:
                self.runner.say(f"    warning: {problem} -- {fix}")
            else:
                raise UserError(problem, fix)

    def ensure_cluster(self) -> None:
        mk = self.target.minikube
        assert mk is not None
        status = self._status()
        if status and status.get("Host") == "Running" and status.get("APIServer") == "Running":
            self.runner.ok(f"minikube profile {self.profile} running")
            return
        from automation.versions import VERSIONS

        self.runner.run(
            ["minikube", "start", "-p", self.profile, f"--driver={mk.driver}", f"--cpus={mk.cpus}",
             f"--memory={mk.memory_mb}", f"--disk-size={mk.disk}", f"--kubernetes-version={VERSIONS.kubernetes}"],
            timeout=900, stream=True, heartbeat=30,
            fix="see `minikube logs -p " + self.profile + "`; `minikube delete -p " + self.profile + "` starts over",
        )

    def _mount(self, name: str) -> Background:
        return Background(state_dir(self.target) / f"mount-{name}.pid")

    def ensure_mounts(self) -> None:
        assert self.target.mounts is not None
        for name, mount in (("dags", self.target.mounts.dags), ("data", self.target.mounts.data)):
            host = self.target.path(mount.host)
            process = self._mount(name)
            if process.pid():
                self.runner.ok(f"{host} mounted at {mount.node} (pid {process.pid()})")
                continue
            # 9p mount kept alive in the background; uid 50000 so task pods can write the data folder.
            process.start(self.runner, ["minikube", "mount", "-p", self.profile, f"{host}:{mount.node}",
                                        "--uid=50000", "--gid=0"],
                          state_dir(self.target) / f"mount-{name}.log")
        if not self.runner.dry_run:
            time.sleep(2)

    def ensure_node_folders(self, state: ClusterState) -> None:
        folders = desired.node_folders(self.target)
        check = self.runner.try_read(["minikube", "ssh", "-p", self.profile, "--", "stat", "-c", "%u", *folders])
        if check is not None and check.stdout.split() == ["50000"] * len(folders):
            self.runner.ok(f"node folders owned by 50000: {', '.join(folders)}")
            return
        paths = " ".join(folders)
        self.runner.run(["minikube", "ssh", "-p", self.profile, "--",
                         f"sudo install -d -o 50000 -g 0 -m 0775 {paths} && sudo chown 50000:0 {paths}"])

    def stop(self) -> None:
        for name in ("dags", "data"):
            self._mount(name).stop(self.runner)
        if self._status() is None and not self.runner.dry_run:
            self.runner.ok(f"minikube profile {self.profile} not running")
            return
        self.runner.run(["minikube", "stop", "-p", self.profile], timeout=300)

    def purge(self, state: ClusterState) -> None:
        for name in ("dags", "data"):
            self._mount(name).stop(self.runner)
        self.runner.run(["minikube", "delete", "-p", self.profile], timeout=300)

    def cluster_summary(self) -> str:
        status = self._status()
        if status is None:
            return f"minikube profile {self.profile}: not running"
        return f"minikube profile {self.profile}: host {status.get('Host')}, apiserver {status.get('APIServer')}"

    def mounts_summary(self) -> str:
        alive = [name for name in ("dags", "data") if self._mount(name).pid()]
        return super().mounts_summary() + f" (mount processes alive: {', '.join(alive) or 'none'})"


class ExistingProvider(Provider):
    """Any kube context (kind, k3d, Docker Desktop, a shared cluster): mounts are node paths that exist."""

    binaries = ("kubectl", "helm")

    def kubeconfig(self) -> str | None:
        existing = self.target.existing
        return str(self.target.path(existing.kubeconfig)) if existing and existing.kubeconfig else None

    def context(self) -> str | None:
        return self.target.existing.context if self.target.existing else None

    def ensure_cluster(self) -> None:
        state = self.state()
        if isinstance(state, Unreachable):
            if self.runner.dry_run:
                self.runner.say(f"    warning: {state.why} (dry run: planning as if the cluster were empty)")
                return
            where = f"kube context {self.context()!r}" if self.context() else "the current kube context"
            raise UserError(f"{where} is not reachable: {state.why}",
                            "start that cluster, or set existing.context in the target")
        self.runner.ok(f"cluster reachable at {state.api_client.configuration.host}")

    def ensure_node_folders(self, state: ClusterState) -> None:
        """Node folders are made by a short root pod; a marker ConfigMap remembers it was done for these
        folders, so a re-run does not start a pod (it goes with the namespace on --purge)."""
        folders = desired.node_folders(self.target)
        marker = f"{self.target.release}-node-folders"
        done = state.get("ConfigMap", marker, self.target.namespace)
        if done and done.get("data", {}).get("folders") == "\n".join(folders):
            self.runner.ok(f"node folders owned by 50000: {', '.join(folders)}")
            return
        job = NodeFolderJob(marker, self.target.namespace, desired.AIRFLOW_IMAGE, tuple(folders))
        self.runner.plan(f"run Pod/{job.name} as root: install -d -o 50000 {' '.join(folders)}")
        if not isinstance(state, LiveCluster) or self.runner.dry_run:
            return
        state.delete("Pod", job.name, self.target.namespace)
        while state.get("Pod", job.name, self.target.namespace):
            time.sleep(0.5)
        state.apply(job.render())
        phase = wait_for_pod(state, job.name, self.target.namespace, timeout=120)
        if phase != "Succeeded":
            log = state.pod_log(job.name, self.target.namespace)
            raise UserError(f"preparing node folders failed (pod {phase}): {log.strip()[-200:]}",
                            f"check that {desired.AIRFLOW_IMAGE} is available to the cluster (README: Air-gapped)")
        state.delete("Pod", job.name, self.target.namespace)
        state.apply(ConfigMap(marker, self.target.namespace, {"folders": "\n".join(folders)}).render())
        self.runner.ok(f"node folders owned by 50000: {', '.join(folders)}")

    def stop(self) -> None:
        """An existing cluster is not ours to stop: `down` removes the Airflow release only."""

    def purge(self, state: ClusterState) -> None:
        for volume in desired.volumes(self.target):
            self.runner.plan(f"delete PersistentVolume/{volume.pv_name}")
            if isinstance(state, LiveCluster) and not self.runner.dry_run:
                state.delete("PersistentVolume", volume.pv_name)

    def cluster_summary(self) -> str:
        state = self.state()
        if isinstance(state, Unreachable):
            return f"context {self.context() or '(current)'}: unreachable ({state.why})"
        return f"context {self.context() or '(current)'}: {state.api_client.configuration.host}"


def provider_for(runner: Runner, target: Target) -> Provider:
    if target.provider == "minikube":
        return MinikubeProvider(runner, target)
    if target.provider == "existing":
        return ExistingProvider(runner, target)
    from automation.cloud import cloud_provider  # gke and composer

    return cloud_provider(runner, target)
