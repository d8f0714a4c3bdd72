"""Worker images present where task pods get them: every tag of dags/common/images.json, named as the target's
pods name it (with its registry prefix), on every node, or, for a registry the nodes pull from, in that
registry."""

from __future__ import annotations

from automation.doctor.findings import Finding, blocker, not_applicable, ok, warn
from automation.doctor.probe import Probe
from automation.images.reference import node_image_names, on_every_node
from automation.images.registry_api import is_cloud, manifest_exists
from automation.settings.image_tags import read_tags


def check_images(probe: Probe) -> Finding:
    target = probe.target
    if probe.provider.cluster is None:
        return not_applicable("worker images", "Composer's nodes pull from Artifact Registry when a pod starts; "
                                               f"`{probe.command('images')}` pushes what the registry lacks")
    tags = read_tags()
    fix = probe.command("images")
    if not tags:
        return warn("worker images", "dags/common/images.json lists no image", fix)
    live = probe.live()
    if live is None:
        return Finding("worker images", "n/a", "not checked: the cluster does not answer (see context)")
    prefix = target.images.cluster_registry()
    plain = [f"{name}:{tag}" for name, tag in sorted(tags.items())]
    refs = {image: f"{prefix}/{image}" if prefix else image for image in plain}
    held = node_image_names(live.list("Node"))
    missing = [image for image, ref in refs.items() if not on_every_node(held, ref)]
    pushed = target.images.push_registry() if target.images.load == "registry" else None
    if missing and pushed and is_cloud(pushed.split("/", 1)[0]):
        return not_applicable("worker images", f"nodes pull {', '.join(missing)} from {pushed} when a pod starts "
                                               f"(not read here: it needs gcloud's login); `{fix}` pushes what "
                                               "it lacks")
    if missing and pushed:
        # The nodes pull these from the registry when a pod starts: present there is present.
        missing = [image for image in missing if not manifest_exists(f"{pushed}/{image}")]
    if missing:
        where = f"on the nodes{' nor in ' + pushed if pushed else ''}"
        return blocker("worker images", f"{', '.join(refs[i] for i in missing)} not {where}: their tasks fail with "
                                        "ErrImagePull", fix)
    where = f"on every node{' or in ' + pushed if pushed else ''}"
    return ok("worker images", f"{', '.join(refs.values())} {where}")
