"""Command `images`: build the worker images and make them available to the target."""

from __future__ import annotations

import argparse
from pathlib import Path

from automation.cli.args import target_of
from automation.cli.registry import command
from automation.core.runner import Runner
from automation.core.versions import VERSIONS


def _images_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help="build only this image (repeatable; also the way to build a MANUAL one)")
    p.add_argument("--build-only", action="store_true", help="build, but do not load into the cluster")
    p.add_argument("--base-image", metavar="IMAGE",
                   help=f"base image instead of targets.yaml's images.base_image, or else the pinned default "
                        f"{VERSIONS.worker_base_image.split('@')[0]} (by digest, automation/core/versions.py)")
    p.add_argument("--ca-bundle", metavar="FILE", type=Path,
                   help="extra CA bundle trusted during the build (an intercepting proxy); not kept in the image")
    p.add_argument("--installer", choices=("uv", "pip"), default="uv", help=argparse.SUPPRESS)
    p.add_argument("--no-cache", action="store_true", help="build without Docker's layer cache")
    p.add_argument("--builder", choices=("auto", "buildkit", "classic"), default="auto",
                   help="auto (default): the engine's BuildKit, unless DOCKER_BUILDKIT=0; classic: the builder "
                        "without BuildKit")
    p.add_argument("--tags-file", type=Path, metavar="FILE",
                   help="where to write image -> tag (default dags/common/images.json)")


@command("images", "build the worker images under images/ and make them available to the target", _images_args)
def _images(args: argparse.Namespace, runner: Runner) -> None:
    from automation.images.build import BuildOptions
    from automation.images.sync import images
    from automation.images.tags import TAGS_FILE

    options = BuildOptions(base_image=args.base_image, ca_bundle=args.ca_bundle, installer=args.installer,
                           no_cache=args.no_cache, builder=args.builder)
    images(runner, target_of(args), only=args.only, build_only=args.build_only, options=options,
           tags_file=args.tags_file or TAGS_FILE)
