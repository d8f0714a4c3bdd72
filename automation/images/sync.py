"""`images`: build what is missing, make it available to the target, write the tags file."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.images.build import BuildOptions, BuildReport, build, discover, exists_locally, select
from automation.images.delivery import loader_for
from automation.images.tags import TAGS_FILE, write_tags
from automation.providers import Provider, provider_for
from automation.settings.model import Target


def target_build_options(target: Target, options: BuildOptions) -> BuildOptions:
    """The command line's build options, completed by the target's images settings."""
    base = options.base_image or target.images.base_image
    ca = options.ca_bundle or (target.path(target.images.ca_bundle) if target.images.ca_bundle else None)
    return replace(options, base_image=base, ca_bundle=ca)


def plan_tool_tags(runner: Runner, provider: Provider, *, record: bool = True) -> dict[str, str]:
    """The tags `up` will give the provider's tool images: the hash of their inputs, known before any build, so
    the deployment `up` prepares first already names them (the chart's Redis on the Composer rehearsal). Told to
    the provider, and with `record` written to its tags file (not in a dry run)."""
    options = target_build_options(provider.target, BuildOptions())
    known = discover()
    tags = {image.name: image.tag(options) for image in select(known, provider.tool_images)}
    provider.planned_tool_tags.update(tags)
    if record:
        write_tags(runner, tags, known, provider.tool_tags_file())
    return tags


def images(runner: Runner, target: Target, *, only: Iterable[str] = (), build_only: bool = False,
           options: BuildOptions | None = None, tags_file: Path = TAGS_FILE,
           provider: Provider | None = None) -> dict[str, str]:
    """Build what is missing, load it per the target, write the tags file. Returns name -> tag. `provider`: the
    command's own, when it has one (`up`), so the cluster is connected once."""
    options = target_build_options(target, options or BuildOptions())
    if options.ca_bundle is not None and not options.ca_bundle.is_file():
        raise UserError(f"CA bundle {options.ca_bundle} does not exist", "give the path of a PEM file")
    known = discover()
    chosen = select(known, only)
    if not chosen:
        raise UserError("no image to build under images/",
                        "add images/NAME/requirements.in and its lock (see docs/how-to/worker-images.md)")
    loader = None
    if not build_only:
        loader = loader_for(runner, target, (provider or provider_for(runner, target)).cluster)
    tags: dict[str, str] = {}
    built = 0
    for image in chosen:
        tag = image.tag(options)
        ref = f"{image.name}:{tag}"
        tags[image.name] = tag
        with runner.step(f"image {ref}"):
            if exists_locally(runner, ref):
                runner.ok(f"{ref} is up to date (inputs unchanged): no build")
                report = BuildReport()
            else:
                report = build(runner, image, ref, options)
                built += 1
            if loader is not None:
                t0 = time.monotonic()
                loader.load(ref)
                if not runner.dry_run:
                    report.phases["load"] = time.monotonic() - t0
            if report.phases and not runner.dry_run:
                runner.say(f"    {report.line()}")
    write_tags(runner, tags, known, tags_file)
    verb = "would build" if runner.dry_run else "built"
    runner.say(f"==> images: {verb} {built}, unchanged {len(chosen) - built}"
               + ("" if loader is None else f", loaded per '{target.images.load}'"))
    return tags
