"""Making a locally built image available to the target's cluster, per `images.load`."""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.images.engine import client as engine_client
from automation.images.reference import holds, node_image_names, on_every_node
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
            registry = (self.target.images.pull_registry or "").rstrip("/") or registry_for(self.target)
            if not registry:
                raise UserError(f"target {self.target.name!r} loads images to a registry but names none",
                                f"set targets.{self.target.name}.images.registry, "
                                "for example REGION-docker.pkg.dev/PROJECT/REPO")
            return f"{registry}/{ref}"
        return ref

    def load(self, ref: str) -> None:
        if self.method in _CHECKS_NODES and self._on_nodes(ref):
            self.runner.ok(f"{ref}: already on the cluster's nodes")
            return
        methods: dict[str, Callable[[str], None]] = {
            "none": self._none,
            "minikube": self._minikube,
            "kind": self._kind,
            "registry": self._registry,
            "command": self._command,
            "containerd": self._containerd,
        }
        methods[self.method](ref)

    def _on_nodes(self, ref: str) -> bool:
        """Whether every node already holds the image, from the nodes' own image lists (one API read): an
        import is a copy of the whole image, tens of seconds even when nothing changed."""
        if self._node_images is None:
            from automation.k8s.cluster import LiveCluster
            from automation.providers import provider_for

            state = provider_for(self.runner, self.target).state()
            nodes = state.list("Node") if isinstance(state, LiveCluster) else []
            self._node_images = node_image_names(nodes)
        return on_every_node(self._node_images, ref)

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
        # Tag, push and the manifest check stay on the CLI: the push authenticates through the credential
        # helpers `gcloud auth configure-docker` writes for the docker CLI, streams its own progress, and sends
        # only the layers the registry lacks (the nodes then pull only the layers they lack).
        remote = self.ref_in_cluster(ref)
        push = self._push_ref(ref)
        host = push.split("/", 1)[0]
        cloud = host.endswith("-docker.pkg.dev") or host.endswith("gcr.io")
        if cloud and not self._registry_login_done:
            self.runner.run(["gcloud", "auth", "configure-docker", host, "--quiet"],
                            fix="install the gcloud CLI and run `gcloud auth login`")
            self._registry_login_done = True
        if not cloud and not self.runner.dry_run and not registry_answers(host):
            self._fallback(ref, remote, host)
            return
        if not self.runner.dry_run and self._in_registry(push, cloud):
            self.runner.ok(f"{push}: already in the registry")
            return
        self.runner.run(["docker", "tag", ref, push])
        result = self.runner.run(["docker", "push", push], timeout=3600, heartbeat=30,
                                 fix="check the registry exists and that you may push to it")
        if not self.runner.dry_run:
            pushed, present = push_counts(result.stdout)
            self.runner.ok(f"{push}: {pushed} layer(s) pushed, {present} already in the registry")

    def _push_ref(self, ref: str) -> str:
        """Where this machine pushes `ref`: images.registry, which may differ from the name pods pull."""
        registry = registry_for(self.target)
        return f"{registry}/{ref}" if registry else self.ref_in_cluster(ref)

    def _in_registry(self, push: str, cloud: bool) -> bool:
        if cloud:
            return self.runner.try_read(["docker", "manifest", "inspect", push], timeout=60) is not None
        return manifest_exists(push)

    def _fallback(self, ref: str, remote: str, host: str) -> None:
        method = self.target.images.fallback
        if method is None:
            raise UserError(f"the image registry {host} does not answer",
                            f"start it (Minikube: minikube addons enable registry), or set "
                            f"targets.{self.target.name}.images.fallback to copy whole images instead")
        self.runner.say(f"    warning: the image registry {host} does not answer: copying the whole image "
                        f"instead (images.fallback: {method})")
        if remote != ref:
            self.runner.run(["docker", "tag", ref, remote])
        if method in _CHECKS_NODES and self._on_nodes(remote):
            self.runner.ok(f"{remote}: already on the cluster's nodes")
            return
        {"minikube": self._minikube, "kind": self._kind, "command": self._command,
         "containerd": self._containerd}[method](remote)

    def _command(self, ref: str) -> None:
        template = self.target.images.command or ""
        line = template.replace("{image}", shlex.quote(ref))
        self.runner.run(["bash", "-o", "pipefail", "-c", line], timeout=1800, heartbeat=30,
                        fix=f"check targets.{self.target.name}.images.command")

    # -- containerd: the image streamed from Docker's API into `ctr images import -` --------------------------
    def _containerd(self, ref: str) -> None:
        settings = self.target.images
        socket, namespace = settings.containerd_socket, settings.containerd_namespace
        if not socket:
            raise UserError(f"target {self.target.name!r} loads images into containerd but names no socket",
                            f"set targets.{self.target.name}.images.containerd_socket, "
                            "for example /run/containerd/containerd.sock")
        ctr = ["ctr", "--address", socket, "-n", namespace]
        if self._in_containerd(socket, ctr, ref):
            self.runner.ok(f"{ref}: already in containerd ({socket}, namespace {namespace})")
            return
        cmd = [*ctr, "images", "import", "-"]
        self.runner.say(f"    {ref}: streamed from Docker's image save (API) into the stdin of:")
        if self.runner.dry_run:
            self.runner.run(cmd, mutates=True)
            return
        if self.runner.which("ctr") is None:
            raise UserError("'ctr' was not found on PATH", "install containerd's client `ctr` (it comes with "
                                                           "containerd), or use another images.load")
        if not Path(socket).exists():
            raise UserError(f"containerd socket {socket} does not exist",
                            f"check targets.{self.target.name}.images.containerd_socket: the socket of the "
                            "containerd the cluster's kubelet uses, reachable from this machine")
        self._stream_into(ref, cmd, fix=f"check that {socket} is the cluster's containerd and that this user "
                                        "may use it (often only root may)")

    def _in_containerd(self, socket: str, ctr: list[str], ref: str) -> bool:
        """Whether containerd itself already holds the image: exact for the one store the import writes to,
        and known at once (a node's image list in the API follows the kubelet's next status report)."""
        if not Path(socket).exists():
            return False
        listed = self.runner.try_read([*ctr, "images", "ls", "-q"], timeout=60)
        return listed is not None and holds(listed.stdout.split(), ref)

    def _stream_into(self, ref: str, cmd: list[str], *, fix: str) -> None:
        """`docker save REF | CMD` without a shell or a file: the engine's save stream, chunk by chunk, into the
        command's stdin (the process primitive feeds it while reading the command's output)."""
        from docker.errors import NotFound

        try:
            image = engine_client().images.get(ref)
        except NotFound:
            raise UserError(f"image {ref} is not in this machine's Docker", "build it: nox -s images") from None
        result = self.runner.run(cmd, stdin=_saved(image, ref), timeout=1800, heartbeat=30, fix=fix,
                                 stream=self.runner.verbose)
        if self.runner.verbose:
            self.runner.ok(f"{ref}: {result.stdin_bytes / 1e6:.1f} MB imported in {result.seconds:.1f}s")


def _saved(image: Any, ref: str) -> Iterator[bytes]:
    """Docker's save of the image, chunk by chunk; a failure of the engine (or of its connection: OSError, from
    requests) as one line, which ends the importer it feeds."""
    from docker.errors import DockerException

    try:
        yield from image.save(named=ref if ref in image.tags else True)
    except (DockerException, OSError) as exc:
        raise UserError(f"Docker's save of {ref} failed: {str(exc).splitlines()[0] if str(exc) else exc!r}",
                        "check that Docker is running, then load the image again") from None


# The methods that first ask the nodes whether they hold the image already (a load copies the whole image).
_CHECKS_NODES = ("minikube", "kind", "command", "containerd")


def _scheme(host: str) -> str:
    """Docker and containerd speak plain HTTP to a registry on this machine, HTTPS to any other."""
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return "http" if name in ("localhost", "[::1]") or name.startswith("127.") else "https"


def registry_answers(host: str) -> bool:
    """Whether a registry listens at `host` (any answer to /v2/, a 401 asking for a login included)."""
    import httpx

    try:
        httpx.get(f"{_scheme(host)}://{host}/v2/", timeout=3)
    except httpx.HTTPError:
        return False
    return True


_MANIFESTS = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])


def manifest_exists(push: str) -> bool:
    """Whether the registry already holds HOST/REPO:TAG (the registry API, no login: a registry of this
    machine or the cluster's). An answer other than 200 counts as absent: the push then decides."""
    import httpx

    host, rest = push.split("/", 1)
    repo, tag = rest.rsplit(":", 1)
    try:
        answer = httpx.head(f"{_scheme(host)}://{host}/v2/{repo}/manifests/{tag}", timeout=5,
                            headers={"Accept": _MANIFESTS})
    except httpx.HTTPError:
        return False
    return answer.status_code == 200


def push_counts(output: str) -> tuple[int, int]:
    """(layers pushed, layers the registry already had), from `docker push`'s own report per layer."""
    lines = [line.strip() for line in output.splitlines()]
    # "Mounted from OTHER": the registry had the blob under another repository and links it, nothing is sent.
    return (sum(line.endswith(": Pushed") for line in lines),
            sum(line.endswith(": Layer already exists") or ": Mounted from " in line for line in lines))
