"""Worker images: what an image is, its content-addressed tag, and a build only when the tag is missing.

An image is a folder `images/NAME/` (requirements.in, requirements.lock, and a Dockerfile of its own only when
the shared recipe `images/python.Dockerfile` does not fit). Its tag is a hash of
every file of that folder and of the build arguments that change what gets installed, so an unchanged image is
never rebuilt and a changed one can never be confused with the old one (no `latest`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from automation.core.errors import UserError
from automation.core.paths import IMAGES_DIR, rel
from automation.core.runner import Runner
from automation.images.engine import inspect_image

# A file of this name in an image folder keeps it out of the default set (too large or too slow for CI):
# it is built only when named with --only.
MANUAL_MARKER = "MANUAL"
SHARED_DOCKERFILE = "python.Dockerfile"
# Every image carries the task launcher; it is part of every build context (and so of every tag).
LAUNCHER_SOURCE = IMAGES_DIR / "launcher" / "launch.py"
LAUNCHER_NAME = "launch.py"
CA_NAME = "extra-ca.crt"
# Bumped when the way a tag is computed changes, so old tags are not reused for a different recipe.
TAG_SCHEME = "1"
TAG_LENGTH = 16


@dataclass(frozen=True)
class BuildOptions:
    base_image: str | None = None  # None: the Dockerfile's own default (python:3.12-slim)
    ca_bundle: Path | None = None
    installer: str = "uv"
    no_cache: bool = False


@dataclass(frozen=True)
class Image:
    name: str
    folder: Path

    @property
    def manual(self) -> bool:
        return (self.folder / MANUAL_MARKER).is_file()

    @property
    def dockerfile(self) -> Path:
        """The image's own Dockerfile, or the recipe the images share."""
        own = self.folder / "Dockerfile"
        return own if own.is_file() else self.folder.parent / SHARED_DOCKERFILE

    def files(self) -> list[tuple[str, Path]]:
        """Every build input, by its name in the build context."""
        found = {p.relative_to(self.folder).as_posix(): p for p in self.folder.rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts and p.name != MANUAL_MARKER}
        found["Dockerfile"] = self.dockerfile
        found[LAUNCHER_NAME] = LAUNCHER_SOURCE
        return sorted(found.items())

    def build_args(self, options: BuildOptions) -> dict[str, str]:
        args: dict[str, str] = {}
        if options.base_image:
            args["BASE_IMAGE"] = options.base_image
        if options.ca_bundle:
            args["EXTRA_CA_BUNDLE"] = CA_NAME
        if options.installer != "uv":
            args["INSTALLER"] = options.installer
        return args

    def tag(self, options: BuildOptions) -> str:
        """Hash of the folder's files and of the build arguments that change the result.

        The CA bundle is left out, neither its bytes nor whether one is given: it only decides whom the build
        trusts while downloading, every package is checked against the lock's hashes, and the bundle is not
        copied into the final image. So a build behind a proxy and one without produce the same image and the
        same tag, and a CA that rotates does not cause a rebuild.
        """
        digest = hashlib.sha256(f"scheme={TAG_SCHEME}\n".encode())
        for name, path in self.files():
            digest.update(f"file={name}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
        # The base image by name: pin it by digest (python:3.12-slim@sha256:...) for bit-for-bit rebuilds.
        digest.update(f"base={options.base_image or 'default'}\n".encode())
        digest.update(f"installer={options.installer}\n".encode())
        return digest.hexdigest()[:TAG_LENGTH]


def discover(root: Path = IMAGES_DIR) -> dict[str, Image]:
    if not root.is_dir():
        return {}
    return {p.name: Image(p.name, p) for p in sorted(root.iterdir())
            if (p / "Dockerfile").is_file() or (p / "requirements.lock").is_file()}


def select(images: dict[str, Image], only: Iterable[str]) -> list[Image]:
    names = list(dict.fromkeys(only))
    if not names:
        return [i for i in images.values() if not i.manual]
    unknown = [n for n in names if n not in images]
    if unknown:
        raise UserError(f"no image named {unknown[0]!r} under images/",
                        f"use one of: {', '.join(images) or '(none)'}")
    return [images[n] for n in names]


def _docker_env() -> dict[str, str]:
    # Docker 20.10 without buildx: the classic builder, unless the user chose otherwise.
    return {**os.environ, "DOCKER_BUILDKIT": os.environ.get("DOCKER_BUILDKIT", "0")}


def exists_locally(runner: Runner, ref: str) -> bool:
    """Whether this machine's Docker holds `ref`, asked through the engine's API (no output to parse)."""
    return inspect_image(runner, ref) is not None


def build(runner: Runner, image: Image, ref: str, options: BuildOptions) -> None:
    """`docker build` from a temporary context: the image folder, plus the CA bundle when one is given.

    The build stays on the CLI, through the Runner, on purpose: Docker 20.10 here has no buildx, and the
    classic builder's streamed output, its progress and the --build-arg handling all go through the one place
    that prints commands, keeps dry runs to a plan, masks secrets and turns a failure into one line. The SDK's
    `images.build` would need each of those redone (and a JSON progress stream decoded) for nothing gained.
    """
    cmd = ["docker", "build", "--tag", ref, "--label", f"airflow-automation.image={image.name}"]
    if options.no_cache:
        cmd.append("--no-cache")
    for key, value in image.build_args(options).items():
        cmd += ["--build-arg", f"{key}={value}"]
    if runner.dry_run:
        # The real context is a temporary copy; the plan names what it is a copy of, so it reads the same each time.
        runner.run([*cmd, rel(image.folder)], env=_docker_env())
        return
    with tempfile.TemporaryDirectory(prefix=f"image-{image.name}-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(image.folder, context, ignore=shutil.ignore_patterns("__pycache__", MANUAL_MARKER))
        shutil.copyfile(image.dockerfile, context / "Dockerfile")
        shutil.copyfile(LAUNCHER_SOURCE, context / LAUNCHER_NAME)
        if options.ca_bundle:
            shutil.copyfile(options.ca_bundle, context / CA_NAME)
        runner.run([*cmd, str(context)], env=_docker_env(), stream=runner.verbose, timeout=3600, heartbeat=30,
                   fix="rerun with -v to see the build output; a download failing on TLS behind a proxy "
                       "needs --ca-bundle FILE")
