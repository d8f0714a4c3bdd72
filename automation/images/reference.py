"""Whether a node or a runtime holds an image: the one rule images.load and the doctor share.

A pod's `pandas-basic:TAG` is pulled as docker.io/library/pandas-basic:TAG, so a runtime holds it only under
that exact name: 127.0.0.1:5000/pandas-basic:TAG, which a registry delivery leaves behind, is another image
reference, and a pod naming the short one still pulls (ErrImagePull for a locally built image).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def qualified(ref: str) -> str:
    """`ref` as containerd and the kubelet name it (containerd's reference.ParseDockerRef): no registry host
    means docker.io, a single component there is library/NAME, no tag is :latest, and with both a tag and a
    digest only the digest counts (what the runtime resolves)."""
    # The docker SDK's helpers know where a registry host ends and a tag begins (a port looks like a tag) and
    # that index.docker.io is docker.io; the library/ and :latest defaults are the runtime's, added here.
    from docker.auth import resolve_repository_name
    from docker.errors import InvalidRepository
    from docker.utils import parse_repository_tag

    named, _, digest = ref.partition("@")
    repository, tag = parse_repository_tag(named)
    try:
        host, path = resolve_repository_name(repository)
    except InvalidRepository:
        return ref  # not an image reference (a scheme in it): only the same string is the same thing
    if host == "docker.io" and "/" not in path:
        path = f"library/{path}"
    if digest:
        return f"{host}/{path}@{digest}"
    return f"{host}/{path}:{tag or 'latest'}"


def holds(names: Iterable[str], ref: str) -> bool:
    """Whether a runtime's image names (a node's status.images names, `ctr images ls -q`) include `ref`."""
    wanted = qualified(ref)
    return any(qualified(name) == wanted for name in names)


def node_image_names(nodes: list[dict[str, Any]]) -> list[set[str]]:
    """Each node's image names, from the kubelet's report in Node.status.images (as fresh as its last status
    update)."""
    return [{name for image in (node.get("status") or {}).get("images") or [] for name in image.get("names") or []}
            for node in nodes]


def on_every_node(node_names: list[set[str]], ref: str) -> bool:
    """Whether every node holds `ref` (no node known: not held)."""
    return bool(node_names) and all(holds(names, ref) for names in node_names)
