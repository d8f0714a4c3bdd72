"""Making a locally built image available to the target's cluster: one `ImageLoader` per `images.load` method,
chosen by `loader_for`, which gives each the cluster it needs instead of letting it find one.

    none        the cluster uses this machine's Docker images
    minikube    `minikube image load`            } whole-image copies: each first asks the nodes (one API
    kind        `kind load docker-image`         } read) whether they hold the image, since a copy takes
    command     the target's own command         } tens of seconds even when nothing changed
    containerd  Docker's save streamed into `ctr images import -`
    registry    tag and push; the nodes pull (a copy method as its fallback when the registry does not answer)
"""

from __future__ import annotations

from typing import Protocol

from automation.core.runner import Runner
from automation.images.delivery.containerd import ContainerdCopy
from automation.images.delivery.copies import CommandCopy, CopyToNodes, KindCopy, MinikubeCopy, NodeImages, NoLoad
from automation.images.delivery.registry import RegistryLoad
from automation.providers.cluster import Cluster
from automation.settings.model import Target


class ImageLoader(Protocol):
    def ref_in_cluster(self, ref: str) -> str:
        """The name pods give the image on this target."""
        ...

    def load(self, ref: str) -> None:
        """Make the local image `ref` available to the cluster (a no-op when it already is)."""
        ...


def loader_for(runner: Runner, target: Target, cluster: Cluster | None) -> ImageLoader:
    """The loader of the target's `images.load`, given the cluster whose nodes it asks (None: Cloud Composer)."""
    return _by_method(target.images.load, runner, target, NodeImages(cluster))


def _by_method(method: str, runner: Runner, target: Target, nodes: NodeImages) -> ImageLoader:
    if method == "registry":
        fallback = target.images.fallback
        return RegistryLoad(runner, target, _by_method(fallback, runner, target, nodes) if fallback else None)
    copies: dict[str, type[MinikubeCopy | KindCopy | CommandCopy | ContainerdCopy]] = {
        "minikube": MinikubeCopy, "kind": KindCopy, "command": CommandCopy, "containerd": ContainerdCopy}
    if method in copies:
        return CopyToNodes(runner, nodes, copies[method](runner, target))
    return NoLoad(runner)


__all__ = ["ImageLoader", "loader_for"]
