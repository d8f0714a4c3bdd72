"""This machine's Docker engine through its API (the `docker` SDK), for what the CLI would only give as text to
parse: whether an image is present, its metadata, its `save` stream, a container and its logs.

Builds stay on the CLI (see `build.build`).
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

from automation.core.errors import UserError
from automation.core.runner import Runner

if TYPE_CHECKING:
    import docker
    from docker.models.images import Image as EngineImage

# Dry runs that found no engine and said so: one warning per run, not one per image.
_WARNED: set[int] = set()


def engine_address() -> str:
    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


@functools.cache
def _connect() -> docker.DockerClient:
    import docker

    # from_env asks the engine for its API version, so an engine that is not there fails here, once.
    return docker.from_env()


def client() -> docker.DockerClient:
    """The engine's client, or a one-line UserError saying it cannot be reached."""
    from docker.errors import DockerException

    try:
        return _connect()
    except DockerException as exc:
        text = str(exc)
        if "PermissionError" in text or "Permission denied" in text:
            raise UserError(f"this user may not use the Docker engine at {engine_address()} (permission denied)",
                            "start Docker as your user, or add your user to the docker group and log in again"
                            ) from None
        if "FileNotFoundError" in text or "No such file" in text:
            reason = "no engine listens there"
        elif "ConnectionRefused" in text or "Connection refused" in text:
            reason = "connection refused"
        else:
            reason = (text.splitlines()[0] if text else type(exc).__name__)[:160]
        raise UserError(f"the Docker engine at {engine_address()} is not reachable: {reason}",
                        "start Docker (or point DOCKER_HOST at a running engine), then run the same command "
                        "again") from None


def dry_run_client(runner: Runner) -> docker.DockerClient | None:
    """The client; in a dry run, None (after one warning) when there is no engine: the plan is then made as if
    no image were present, as plans are made without a cluster."""
    if not runner.dry_run:
        return client()
    try:
        return client()
    except UserError as exc:
        if id(runner) not in _WARNED:
            _WARNED.add(id(runner))
            runner.say(f"    warning: {exc.problem} (dry run: planning as if no image were present)")
        return None


def inspect_image(runner: Runner, ref: str) -> EngineImage | None:
    """The local image `ref` (its id, tags, labels, config), or None when this machine has none of that name."""
    from docker.errors import APIError, NotFound

    engine = dry_run_client(runner)
    if engine is None:
        return None
    if runner.verbose:
        runner.say(f"    docker API: inspect image {ref}")
    try:
        return engine.images.get(ref)
    except NotFound:
        return None
    except APIError as exc:
        if exc.is_client_error():  # a name the engine refuses (invalid reference format): no such image
            return None
        raise UserError(f"the Docker engine failed to inspect {ref}: {exc.explanation or exc}",
                        "check the engine (docker info), then run the same command again") from None
