"""Worker images: what an image is, its content-addressed tag, and a build only when the tag is missing.

An image is a folder `images/NAME/`: requirements.in and its hashed requirements.lock, built from the recipe the
images share (automation/images/recipe.py), or a Dockerfile of its own. Its tag is a hash of every input (the
folder's files, the launcher, the recipe, the base image, the installer), so an unchanged image is never
rebuilt and a changed one can never be confused with the old one (no `latest`).

A shared-recipe build has phases, each timed and printed: resolve (the lock's layers, the base's Python),
download (wheels missing from this machine's cache, see wheelhouse.py), install (the layer stages) and export
(the image put together from them).

Builds run on the engine's BuildKit (buildkit.py) unless the classic builder is asked for (`--builder classic`
or DOCKER_BUILDKIT=0), and fall back to it, with a warning, on an engine that refuses BuildKit.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from automation.core.errors import UserError
from automation.core.paths import IMAGES_DIR, cache_dir, rel
from automation.core.runner import Runner
from automation.core.versions import VERSIONS
from automation.images import buildkit
from automation.images.base_python import base_python
from automation.images.engine import inspect_image
from automation.images.lock import layers
from automation.images.recipe import FINAL_STAGE, Recipe, template_fingerprint
from automation.images.wheelhouse import wheels_for

# A file of this name in an image folder keeps it out of the default set (too large or too slow for CI):
# it is built only when named with --only.
MANUAL_MARKER = "MANUAL"
# Every image carries the task launcher; it is part of every build context (and so of every tag).
LAUNCHER_SOURCE = IMAGES_DIR / "launcher" / "launch.py"
LAUNCHER_NAME = "launch.py"
CA_NAME = "extra-ca.crt"
# Bumped when the way a tag is computed changes, so old tags are not reused for a different recipe.
TAG_SCHEME = "2"
TAG_LENGTH = 16


@dataclass(frozen=True)
class BuildOptions:
    base_image: str | None = None  # None: VERSIONS.worker_base_image (by digest)
    ca_bundle: Path | None = None
    installer: str = "uv"
    no_cache: bool = False
    builder: str = "auto"  # auto (BuildKit unless DOCKER_BUILDKIT=0), buildkit, classic

    @property
    def base(self) -> str:
        return self.base_image or VERSIONS.worker_base_image

    @property
    def buildkit(self) -> bool:
        if self.builder == "auto":
            return os.environ.get("DOCKER_BUILDKIT", "1") != "0"
        return self.builder == "buildkit"


@dataclass(frozen=True)
class Image:
    name: str
    folder: Path

    @property
    def manual(self) -> bool:
        return (self.folder / MANUAL_MARKER).is_file()

    @property
    def own_dockerfile(self) -> Path | None:
        own = self.folder / "Dockerfile"
        return own if own.is_file() else None

    def files(self) -> list[tuple[str, Path]]:
        """Every build input that is a file, by its name in the build context."""
        found = {p.relative_to(self.folder).as_posix(): p for p in self.folder.rglob("*")
                 if p.is_file() and "__pycache__" not in p.parts and p.name != MANUAL_MARKER}
        found[LAUNCHER_NAME] = LAUNCHER_SOURCE
        return sorted(found.items())

    def tag(self, options: BuildOptions) -> str:
        """Hash of the folder's files, the launcher, the recipe, the base image and the installer.

        The CA bundle is left out, neither its bytes nor whether one is given: it only decides whom a download
        trusts, every package is checked against the lock's hashes, and the bundle is not copied into the
        image. So a build behind a proxy and one without give the same image and tag, and a CA that rotates
        does not cause a rebuild. The base counts by the name given: the default names a digest, so a new
        digest gives new tags.
        """
        digest = hashlib.sha256(f"scheme={TAG_SCHEME}\n".encode())
        for name, path in self.files():
            digest.update(f"file={name}\n".encode())
            digest.update(hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
        if self.own_dockerfile is None:
            digest.update(hashlib.sha256(template_fingerprint().encode()).hexdigest().encode() + b"\n")
            digest.update(f"uv={VERSIONS.uv}\n".encode())
        digest.update(f"base={options.base}\n".encode())
        digest.update(f"installer={options.installer}\n".encode())
        return digest.hexdigest()[:TAG_LENGTH]


@dataclass
class BuildReport:
    """How long each phase of one build took, and what it moved."""

    phases: dict[str, float] = field(default_factory=dict)
    layers: list[str] = field(default_factory=list)
    wheels_fetched: int = 0

    def line(self) -> str:
        shown = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in self.phases.items())
        fetched = f"; {self.wheels_fetched} wheels downloaded" if "download" in self.phases else ""
        return f"phases: {shown}{fetched}"


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
    # The classic builder through the CLI: a CLI without buildx would otherwise refuse or warn.
    return {**os.environ, "DOCKER_BUILDKIT": "0"}


def exists_locally(runner: Runner, ref: str) -> bool:
    """Whether this machine's Docker holds `ref`, asked through the engine's API (no output to parse)."""
    return inspect_image(runner, ref) is not None


def build(runner: Runner, image: Image, ref: str, options: BuildOptions) -> BuildReport:
    """A build from a temporary context made for this image (see the module's docstring).

    BuildKit builds go through the engine's API (buildkit.py); classic ones stay on the CLI, through the Runner,
    whose streamed output, progress and one-line failures serve them as they are (the SDK's `images.build` would
    need each redone for nothing gained).
    """
    report = BuildReport()
    labels = {"airflow-automation.image": image.name}
    cmd = ["docker", "build", "--tag", ref, *[x for k, v in labels.items() for x in ("--label", f"{k}={v}")]]
    if options.no_cache:
        cmd.append("--no-cache")
    if runner.dry_run:
        # The real context is made in a temporary folder; the plan names what it is made of, so it reads the same
        # each time and needs neither the base image nor a download.
        if image.own_dockerfile is None and options.installer == "uv":
            runner.plan(f"fetch the wheels of {rel(image.folder / 'requirements.lock')} missing from "
                        f"{rel(cache_dir() / 'wheels')} (pip download --require-hashes)")
            runner.plan(f"render the Dockerfile: base {options.base}, uv {VERSIONS.uv}, one layer per "
                        f"requirement of {rel(image.folder / 'requirements.in')}")
        elif image.own_dockerfile is None:
            runner.plan(f"render the Dockerfile: base {options.base}, pip inside the build")
        if options.buildkit:
            runner.plan(f"$ {shlex.join(cmd)} {rel(image.folder)}  {buildkit.SHOWN_SUFFIX}")
        else:
            runner.run([*cmd, rel(image.folder)], env=_docker_env())
        return report
    root = cache_dir() / "contexts"
    root.mkdir(parents=True, exist_ok=True)
    build_args: dict[str, str] = {}
    # Next to the wheel cache, so the context's wheels are hard links, not copies.
    with tempfile.TemporaryDirectory(dir=root, prefix=f"{image.name}-") as tmp:
        context = Path(tmp) / "context"
        context.mkdir()
        for name, path in image.files():
            (context / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, context / name)
        recipe: Recipe | None = None
        if image.own_dockerfile is not None:
            # The pinned base (or the target's): an own Dockerfile starts `ARG BASE_IMAGE` / `FROM ${BASE_IMAGE}`.
            build_args["BASE_IMAGE"] = options.base
            if options.ca_bundle:
                shutil.copyfile(options.ca_bundle, context / CA_NAME)
                build_args["EXTRA_CA_BUNDLE"] = CA_NAME
        elif options.installer == "pip":
            (context / "ca").mkdir()
            if options.ca_bundle:
                shutil.copyfile(options.ca_bundle, context / "ca" / CA_NAME)
                build_args["EXTRA_CA_BUNDLE"] = CA_NAME
            (context / "Dockerfile").write_text(Recipe(image.name, options.base).pip())
        else:
            recipe = _uv_context(runner, image, options, context, report)
        fix = ("rerun with -v to see the build output; a download failing on TLS behind a proxy needs "
               "--ca-bundle FILE")
        if options.buildkit:
            if recipe is not None:
                (context / "Dockerfile").write_text(recipe.uv(buildkit=True))
            shown = shlex.join([*cmd, *[x for k, v in build_args.items() for x in ("--build-arg", f"{k}={v}")],
                                rel(image.folder)])
            try:
                trace = buildkit.build(runner, context, ref, labels=labels, build_args=build_args,
                                       no_cache=options.no_cache, shown=shown, fix=fix)
            except buildkit.BuildKitUnavailable as exc:
                runner.say(f"    warning: the Docker engine refused a BuildKit build ({exc}): building with the "
                           "classic builder instead (--builder classic skips this try)")
            else:
                _phases_of(trace, report)
                return report
        if recipe is not None:
            (context / "Dockerfile").write_text(recipe.uv(buildkit=False))
        for key, value in build_args.items():
            cmd += ["--build-arg", f"{key}={value}"]
        _docker_build(runner, [*cmd, str(context)], report, fix)
    return report


def _phases_of(trace: buildkit.Trace, report: BuildReport) -> None:
    """install: until the last step outside the image's own stage ends (the stages run in parallel); export: the
    rest (the layers copied into the image, which is then written to the engine's store)."""
    staged = [v.completed for v in trace.steps.values()
              if v.completed is not None and v.name.startswith("[") and not v.name.startswith("[internal]")
              and not v.name.startswith(f"[{FINAL_STAGE} ")]
    split_at = max(staged, default=trace.started)
    report.phases["install"] = max(0.0, split_at - trace.started)
    report.phases["export"] = max(0.0, trace.ended - split_at)


def _uv_context(runner: Runner, image: Image, options: BuildOptions, context: Path, report: BuildReport) -> Recipe:
    t0 = time.monotonic()
    split = [layer for layer in layers(image.folder / "requirements.in", image.folder / "requirements.lock")
             if layer.entries]
    python = base_python(runner, options.base)
    report.layers = [layer.name for layer in split]
    t1 = time.monotonic()
    report.phases["resolve"] = t1 - t0
    wheels, report.wheels_fetched = wheels_for(runner, [e for layer in split for e in layer.entries], python,
                                               ca_bundle=options.ca_bundle)
    report.phases["download"] = time.monotonic() - t1
    for index, layer in enumerate(split):
        # One folder per layer: its wheels and its slice of the lock (one mount, or one COPY, per layer).
        folder = context / "layers" / str(index)
        folder.mkdir(parents=True)
        for entry in layer.entries:
            wheel = wheels.get(entry.name)
            if wheel is not None and not (folder / wheel.name).exists():
                _link_or_copy(wheel, folder / wheel.name)
        (folder / "layer.lock").write_text(layer.lock_text())
    _link_or_copy(Path(uv_binary()), context / "uv")
    return Recipe(image.name, options.base, tuple(split), python.purelib)


def render_recipes(folder: Path) -> list[Path]:
    """Each shared-recipe image's Dockerfile, both installers, written to `folder` for the linters (hadolint
    in `nox -s lint`): the recipe is rendered per image, so no Dockerfile of it is committed to lint."""
    written = []
    for image in discover().values():
        if image.own_dockerfile is not None:
            continue
        split = tuple(layer for layer in layers(image.folder / "requirements.in", image.folder / "requirements.lock")
                      if layer.entries)
        recipe = Recipe(image.name, VERSIONS.worker_base_image, split)
        for installer, text in (("uv", recipe.uv()), ("uv-classic", recipe.uv(buildkit=False)),
                                ("pip", recipe.pip())):
            path = folder / f"{image.name}.{installer}.Dockerfile"
            path.write_text(text)
            written.append(path)
    return written


def uv_binary() -> str:
    """The uv of this package's own environment (the PyPI release VERSIONS.uv names)."""
    try:
        import uv
    except ImportError:
        raise UserError("uv is not installed in this Python environment",
                        f"pip install uv=={VERSIONS.uv} (nox sessions install it with the package)") from None
    return uv.find_uv_bin()


def _link_or_copy(source: Path, dest: Path) -> None:
    try:
        os.link(source, dest)
    except OSError:
        shutil.copyfile(source, dest)
        shutil.copymode(source, dest)


_FINAL_STEP = re.compile(rf"^Step \d+/\d+ : FROM \S+ AS {FINAL_STAGE}\s*$", re.IGNORECASE)


def _docker_build(runner: Runner, cmd: list[str], report: BuildReport, fix: str) -> None:
    """The build, timed in two phases: installing (up to the final stage) and exporting (the final stage)."""
    t0 = time.monotonic()
    final_at: list[float] = []

    def watch(line: str) -> None:
        if not final_at and _FINAL_STEP.match(line.strip()):
            final_at.append(time.monotonic())

    runner.run(cmd, env=_docker_env(), stream=runner.verbose, timeout=3600, heartbeat=30, on_line=watch, fix=fix)
    end = time.monotonic()
    split_at = final_at[0] if final_at else end
    report.phases["install"] = split_at - t0
    report.phases["export"] = end - split_at
