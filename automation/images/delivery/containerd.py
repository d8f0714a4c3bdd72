"""containerd: the image streamed from Docker's API into `ctr images import -` (no shell, no file)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.images.engine import client as engine_client
from automation.images.reference import holds
from automation.settings.model import Target


class ContainerdCopy:
    def __init__(self, runner: Runner, target: Target):
        self.runner, self.target = runner, target

    def __call__(self, ref: str) -> None:
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
            raise UserError(f"image {ref} is not in this machine's Docker",
                            f"build it: {self.target.command('images')}") from None
        result = self.runner.run(cmd, stdin=saved(image, ref), timeout=1800, heartbeat=30, fix=fix,
                                 stream=self.runner.verbose)
        if self.runner.verbose:
            self.runner.ok(f"{ref}: {result.stdin_bytes / 1e6:.1f} MB imported in {result.seconds:.1f}s")


def saved(image: Any, ref: str) -> Iterator[bytes]:
    """Docker's save of the image, chunk by chunk; a failure of the engine (or of its connection: OSError, from
    requests) as one line, which ends the importer it feeds."""
    from docker.errors import DockerException

    try:
        yield from image.save(named=ref if ref in image.tags else True)
    except (DockerException, OSError) as exc:
        raise UserError(f"Docker's save of {ref} failed: {str(exc).splitlines()[0] if str(exc) else exc!r}",
                        "check that Docker is running, then load the image again") from None
