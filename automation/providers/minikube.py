"""Minikube: the cluster is started here, and this machine's dags/ and data/ are mounted into its node."""

from __future__ import annotations

import json
import time

from automation.core.background import Background
from automation.core.errors import UserError
from automation.core.machine import cluster_room
from automation.core.versions import VERSIONS
from automation.k8s.cluster import ClusterState
from automation.providers.base import LocalClusterProvider
from automation.settings.model import Minikube as MinikubeSettings


class MinikubeProvider(LocalClusterProvider):
    kind = "minikube"

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
        """The size the settings ask for against what Minikube can get here (minikube itself refuses more, after
        a slower start): each problem names the flag that lowers it."""
        mk = self.target.minikube
        assert mk is not None
        room = cluster_room(self.runner, mk.driver)
        problems = []
        if mk.cpus > room.cpus:
            problems.append((f"minikube asks for {mk.cpus} CPUs but {room.source} has {room.cpus}",
                             f"lower it: `{self.target.command('up', '--cpus', str(room.cpus))}` (or "
                             f"targets.{self.target.name}.minikube.cpus in a settings overlay)"))
        if room.memory_mb and mk.memory_mb > room.memory_mb:
            fits = fitting_memory_mb(room.memory_mb)
            problems.append((f"minikube asks for {mk.memory_mb} MB of memory but {room.source} has "
                             f"{room.memory_mb} MB",
                             f"lower it: `{self.target.command('up', '--memory', str(fits))}` (or "
                             f"targets.{self.target.name}.minikube.memory_mb in a settings overlay)"))
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
        self.runner.run(
            ["minikube", "start", "-p", self.profile, f"--driver={mk.driver}", f"--cpus={mk.cpus}",
             f"--memory={mk.memory_mb}", f"--disk-size={mk.disk}", f"--kubernetes-version={VERSIONS.kubernetes}"],
            timeout=900, stream=True, heartbeat=30,
            fix="see `minikube logs -p " + self.profile + "`; `minikube delete -p " + self.profile + "` starts over",
        )

    def _mount(self, name: str) -> Background:
        return Background(self.state_dir() / f"mount-{name}.pid")

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
                          self.state_dir() / f"mount-{name}.log")
        if not self.runner.dry_run:
            time.sleep(2)

    def ensure_node_folders(self, state: ClusterState) -> None:
        folders = self.node_folders()
        check = self.runner.try_read(["minikube", "ssh", "-p", self.profile, "--", "stat", "-c", "%u", *folders])
        if check is not None and check.stdout.split() == ["50000"] * len(folders):
            self.runner.ok(f"node folders owned by 50000: {', '.join(folders)}")
            return
        paths = " ".join(folders)
        self.runner.run(["minikube", "ssh", "-p", self.profile, "--",
                         f"sudo install -d -o 50000 -g 0 -m 0775 {paths} && sudo chown 50000:0 {paths}"])

    def down(self) -> None:
        """The whole profile stops: Minikube is this target's own cluster."""
        self.stop()

    def unreachable_fix(self, up_command: str, status_command: str) -> str:
        return up_command  # `up` starts the profile

    def remount_fix(self, up_command: str) -> str:
        return f" (minikube mounts: `{up_command}` restarts them)"

    def node_size(self) -> MinikubeSettings | None:
        return self.target.minikube

    def stop(self) -> None:
        for name in ("dags", "data"):
            self._mount(name).stop(self.runner)
        if self._status() is None and not self.runner.dry_run:
            self.runner.ok(f"minikube profile {self.profile} not running")
            return
        self.runner.run(["minikube", "stop", "-p", self.profile], timeout=300)

    def purge_all(self) -> None:
        """The whole Minikube profile: its cluster, and with it the namespace, volumes and secrets."""
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


def fitting_memory_mb(available_mb: int) -> int:
    """A Minikube memory size that leaves a quarter of `available_mb` to the rest (whole 512 MB steps, at least
    Minikube's 2048)."""
    return max(2048, available_mb * 3 // 4 // 512 * 512)
