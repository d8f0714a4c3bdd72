"""Making a locally built image available to the target's cluster, per `images.load`."""

from __future__ import annotations

import shlex

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.settings.model import Target


def registry_for(target: Target) -> str | None:
    """Where a registry target pushes: images.registry, else the GKE/Composer Artifact Registry repository."""
    if target.images.registry:
        return target.images.registry.rstrip("/")
    cloud = target.gke or target.composer
    if cloud is not None:
        return f"{cloud.region}-docker.pkg.dev/{cloud.project}/{cloud.artifact_repository}"
    return None


class Loader:
    """Makes a local image available to the target's cluster, per `images.load`."""

    def __init__(self, runner: Runner, target: Target):
        self.runner = runner
        self.target = target
        self.method = target.images.load
        self._registry_login_done = False
        self._node_images: list[set[str]] | None = None

    def ref_in_cluster(self, ref: str) -> str:
        if self.method == "registry":
            registry = registry_for(self.target)
            if not registry:
                raise UserError(f"target {self.target.name!r} loads images to a registry but names none",
                                f"set targets.{self.target.name}.images.registry, "
                                "for example REGION-docker.pkg.dev/PROJECT/REPO")
            return f"{registry}/{ref}"
        return ref

    def load(self, ref: str) -> None:
        if self.method in ("minikube", "kind", "command") and self._on_nodes(ref):
            self.runner.ok(f"{ref}: already on the cluster's nodes")
            return
        method = getattr(self, f"_{self.method}")
        method(ref)

    def _on_nodes(self, ref: str) -> bool:
        """Whether every node already holds the image, from the nodes' own image lists (one API read): an
        import is a copy of the whole image, tens of seconds even when nothing changed."""
        if self._node_images is None:
            from automation.k8s.cluster import LiveCluster
            from automation.providers import provider_for

            state = provider_for(self.runner, self.target).state()
            nodes = state.list("Node") if isinstance(state, LiveCluster) else []
            self._node_images = [{name for image in (node.get("status") or {}).get("images") or []
                                  for name in image.get("names") or []} for node in nodes]
        return bool(self._node_images) and all(
            any(name == ref or name.endswith(f"/{ref}") for name in names) for names in self._node_images)

    def _none(self, ref: str) -> None:
        self.runner.ok(f"{ref}: load none (the cluster uses this machine's Docker images)")

    def _minikube(self, ref: str) -> None:
        profile = self.target.minikube.profile if self.target.minikube else "airflow"
        # `image load` copies through the node's runtime, unlike `docker-env`, which would need every build to
        # happen inside the node's Docker (and work only with the docker runtime): see README.
        self.runner.run(["minikube", "image", "load", ref, "-p", profile], timeout=1800, heartbeat=30,
                        fix=f"check that minikube profile {profile} is running (nox -s status)")

    def _kind(self, ref: str) -> None:
        # kind itself skips nodes that already hold the image.
        self.runner.run(["kind", "load", "docker-image", ref, "--name", self.target.images.kind_cluster],
                        timeout=1800, heartbeat=30)

    def _registry(self, ref: str) -> None:
        remote = self.ref_in_cluster(ref)
        host = remote.split("/", 1)[0]
        if not self._registry_login_done and (host.endswith("-docker.pkg.dev") or host.endswith("gcr.io")):
            self.runner.run(["gcloud", "auth", "configure-docker", host, "--quiet"],
                            fix="install the gcloud CLI and run `gcloud auth login`")
            self._registry_login_done = True
        if not self.runner.dry_run and self.runner.try_read(
                ["docker", "manifest", "inspect", remote], timeout=60) is not None:
            self.runner.ok(f"{remote}: already in the registry")
            return
        self.runner.run(["docker", "tag", ref, remote])
        self.runner.run(["docker", "push", remote], timeout=3600, heartbeat=30,
                        fix="check the registry exists and that you may push to it")

    def _command(self, ref: str) -> None:
        template = self.target.images.command or ""
        line = template.replace("{image}", shlex.quote(ref))
        self.runner.run(["bash", "-o", "pipefail", "-c", line], timeout=1800, heartbeat=30,
                        fix=f"check targets.{self.target.name}.images.command")
