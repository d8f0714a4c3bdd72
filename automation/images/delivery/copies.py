"""Whole-image copies onto the cluster's nodes (minikube, kind, the target's own command; containerd's is in its own
module), the node check they share, and the loader that copies nothing."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import Any

from automation.core.runner import Runner
from automation.images.reference import node_image_names, on_every_node
from automation.k8s.cluster import LiveCluster
from automation.providers.cluster import Cluster
from automation.settings.model import Target


class NodeImages:
    """Whether every node already holds an image, from the nodes' own image lists (one API read per command): an
    import is a copy of the whole image, tens of seconds even when nothing changed."""

    def __init__(self, cluster: Cluster | None):
        self.cluster = cluster
        self._held: list[set[str]] | None = None

    def hold(self, ref: str) -> bool:
        if self._held is None:
            state = self.cluster.state() if self.cluster is not None else None
            nodes: list[dict[str, Any]] = state.list("Node") if isinstance(state, LiveCluster) else []
            self._held = node_image_names(nodes)
        return on_every_node(self._held, ref)


class NoLoad:
    def __init__(self, runner: Runner):
        self.runner = runner

    def ref_in_cluster(self, ref: str) -> str:
        return ref

    def load(self, ref: str) -> None:
        self.runner.ok(f"{ref}: load none (the cluster uses this machine's Docker images)")


class CopyToNodes:
    """A whole-image copy onto the nodes (`copy`), skipped when they hold the image already."""

    def __init__(self, runner: Runner, nodes: NodeImages, copy: Callable[[str], None]):
        self.runner, self.nodes, self.copy = runner, nodes, copy

    def ref_in_cluster(self, ref: str) -> str:
        return ref

    def load(self, ref: str) -> None:
        if self.nodes.hold(ref):
            self.runner.ok(f"{ref}: already on the cluster's nodes")
            return
        self.copy(ref)


class MinikubeCopy:
    def __init__(self, runner: Runner, target: Target):
        self.runner, self.target = runner, target

    def __call__(self, ref: str) -> None:
        profile = self.target.minikube.profile if self.target.minikube else "airflow"
        # `image load` copies through the node's runtime, unlike `docker-env`, which would need every build to
        # happen inside the node's Docker (and work only with the docker runtime): see
        # docs/explanation/worker-images.md.
        self.runner.run(["minikube", "image", "load", ref, "-p", profile], timeout=1800, heartbeat=30,
                        fix=f"check that minikube profile {profile} is running ({self.target.command('status')})")


class KindCopy:
    def __init__(self, runner: Runner, target: Target):
        self.runner, self.target = runner, target

    def __call__(self, ref: str) -> None:
        # kind itself skips nodes that already hold the image.
        self.runner.run(["kind", "load", "docker-image", ref, "--name", self.target.images.kind_cluster],
                        timeout=1800, heartbeat=30)


class CommandCopy:
    def __init__(self, runner: Runner, target: Target):
        self.runner, self.target = runner, target

    def __call__(self, ref: str) -> None:
        template = self.target.images.command or ""
        line = template.replace("{image}", shlex.quote(ref))
        self.runner.run(["bash", "-o", "pipefail", "-c", line], timeout=1800, heartbeat=30,
                        fix=f"check targets.{self.target.name}.images.command")
