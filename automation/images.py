"""Worker images: content-addressed tags, a build only when the tag is missing, and loading into the target.

An image is a folder `images/NAME/` (requirements.in, requirements.lock, and a Dockerfile of its own only when
the shared recipe `images/python.Dockerfile` does not fit). Its tag is a hash of
every file of that folder and of the build arguments that change what gets installed, so an unchanged image is
never rebuilt and a changed one can never be confused with the old one (no `latest`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from automation.errors import UserError
from automation.runner import Runner
from automation.settings import REPO_ROOT, Target

IMAGES_DIR = REPO_ROOT / "images"
TAGS_FILE = REPO_ROOT / "dags" / "common" / "images.json"
# A file of this name in an image folder keeps it out of the default set (too large or too slow for CI):
# it is built only when named with --only.
MANUAL_MARKER = "MANUAL"
SHARED_DOCKERFILE = "python.Dockerfile"
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


def registry_for(target: Target) -> str | None:
    """Where a registry target pushes: images.registry, else the GKE/Composer Artifact Registry repository."""
    if target.images.registry:
        return target.images.registry.rstrip("/")
    cloud = target.gke or target.composer
    if cloud is not None:
        return f"{cloud.region}-docker.pkg.dev/{cloud.project}/{cloud.artifact_repository}"
    return None


def _docker_env() -> dict[str, str]:
    # Docker 20.10 without buildx: the classic builder, unless the user chose otherwise.
    return {**os.environ, "DOCKER_BUILDKIT": os.environ.get("DOCKER_BUILDKIT", "0")}


def exists_locally(runner: Runner, ref: str) -> bool:
    return runner.try_read(["docker", "image", "inspect", "--format", "{{.Id}}", ref], timeout=60) is not None


def build(runner: Runner, image: Image, ref: str, options: BuildOptions) -> None:
    """`docker build` from a temporary context: the image folder, plus the CA bundle when one is given."""
    cmd = ["docker", "build", "--tag", ref, "--label", f"airflow-automation.image={image.name}"]
    if options.no_cache:
        cmd.append("--no-cache")
    for key, value in image.build_args(options).items():
        cmd += ["--build-arg", f"{key}={value}"]
    if runner.dry_run:
        # The real context is a temporary copy; the plan names what it is a copy of, so it reads the same each time.
        runner.run([*cmd, _rel(image.folder)], env=_docker_env())
        return
    with tempfile.TemporaryDirectory(prefix=f"image-{image.name}-") as tmp:
        context = Path(tmp) / "context"
        shutil.copytree(image.folder, context, ignore=shutil.ignore_patterns("__pycache__", MANUAL_MARKER))
        shutil.copyfile(image.dockerfile, context / "Dockerfile")
        if options.ca_bundle:
            shutil.copyfile(options.ca_bundle, context / CA_NAME)
        runner.run([*cmd, str(context)], env=_docker_env(), stream=runner.verbose, timeout=3600, heartbeat=30,
                   fix="rerun with -v to see the build output; a download failing on TLS behind a proxy "
                       "needs --ca-bundle FILE")


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
            from automation.kube import LiveCluster
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


def read_tags(path: Path = TAGS_FILE) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def write_tags(runner: Runner, tags: dict[str, str], known: Iterable[str], path: Path = TAGS_FILE) -> None:
    """Merge into the tags file: images not handled this run keep their entry; removed image folders lose it."""
    keep = set(known)
    merged = {k: v for k, v in read_tags(path).items() if k in keep}
    merged.update(tags)
    text = json.dumps(dict(sorted(merged.items())), indent=2) + "\n"
    if path.is_file() and path.read_text() == text:
        runner.ok(f"{_rel(path)} unchanged")
        return
    runner.plan(f"write {_rel(path)}: {', '.join(f'{k}={v}' for k, v in sorted(tags.items()))}")
    if not runner.dry_run:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def _rel(path: Path) -> str:
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def images(runner: Runner, target: Target, *, only: Iterable[str] = (), build_only: bool = False,
           options: BuildOptions = BuildOptions(), tags_file: Path = TAGS_FILE) -> dict[str, str]:
    """Build what is missing, load it per the target, write the tags file. Returns name -> tag."""
    if options.ca_bundle is not None and not options.ca_bundle.is_file():
        raise UserError(f"CA bundle {options.ca_bundle} does not exist", "give the path of a PEM file")
    known = discover()
    chosen = select(known, only)
    if not chosen:
        raise UserError("no image to build under images/", "add images/NAME/requirements.in and its lock (see README)")
    loader = None if build_only else Loader(runner, target)
    tags: dict[str, str] = {}
    built = 0
    for image in chosen:
        tag = image.tag(options)
        ref = f"{image.name}:{tag}"
        tags[image.name] = tag
        with runner.step(f"image {ref}"):
            if exists_locally(runner, ref):
                runner.ok(f"{ref} is up to date (inputs unchanged): no build")
            else:
                build(runner, image, ref, options)
                built += 1
            if loader is not None:
                loader.load(ref)
    write_tags(runner, tags, known, tags_file)
    verb = "would build" if runner.dry_run else "built"
    runner.say(f"==> images: {verb} {built}, unchanged {len(chosen) - built}"
               + ("" if loader is None else f", loaded per '{target.images.load}'"))
    return tags
