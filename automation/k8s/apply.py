"""Converging objects: apply a manifest only when the cluster does not already hold it (server-side apply),
and Secrets fit for printing."""

from __future__ import annotations

from typing import Any

from automation.core.runner import MASK, Runner
from automation.k8s.cluster import ClusterState, LiveCluster


def contains(current: Any, desired: Any) -> bool:
    """True when every field of `desired` is already in `current` (so applying it would change nothing)."""
    if isinstance(desired, dict):
        return isinstance(current, dict) and all(contains(current.get(k), v) for k, v in desired.items())
    if isinstance(desired, list):
        return (isinstance(current, list) and len(current) == len(desired)
                and all(contains(c, d) for c, d in zip(current, desired, strict=True)))
    return bool(current == desired)


def describe(manifest: dict[str, Any]) -> str:
    meta = manifest["metadata"]
    ns = f" -n {meta['namespace']}" if meta.get("namespace") else ""
    return f"{manifest['kind']}/{meta['name']}{ns}"


READ = object()  # `ensure`'s default: read the object from the cluster


def listed(state: ClusterState, kind: str, namespace: str) -> dict[str, dict[str, Any]]:
    """Every object of `kind` in `namespace` by name: one list for many `ensure` calls (one read per object
    would grow with the number of projects)."""
    # A list's items carry no kind of their own: put it back, as a single read returns it.
    return {obj["metadata"]["name"]: {**obj, "kind": kind} for obj in state.list(kind, namespace)}


def ensure(runner: Runner, state: ClusterState, manifest: dict[str, Any], *, create_only: bool = False,
           current: Any = READ) -> str:
    """Apply `manifest` unless the cluster already holds it. Returns 'created', 'updated' or 'unchanged'.

    `create_only` objects (generated secrets) are never rewritten once present. `current`: the object as
    already read (from `listed`), or None when absent; read here when not given.
    """
    meta = manifest["metadata"]
    if current is READ:
        current = state.get(manifest["kind"], meta["name"], meta.get("namespace"))
    if current is not None and (create_only or contains(current, _comparable(manifest))):
        runner.ok(f"{describe(manifest)} unchanged")
        return "unchanged"
    verb = "create" if current is None else "update"
    runner.plan(f"apply {describe(manifest)} ({verb}, server-side)")
    if isinstance(state, LiveCluster) and not runner.dry_run:
        state.apply(manifest)
    return "created" if current is None else "updated"


def _comparable(manifest: dict[str, Any]) -> dict[str, Any]:
    # The server fills defaults and turns a claim's spec into its own; compare only what we set and own.
    kept = {k: v for k, v in manifest.items() if k not in ("apiVersion",)}
    if manifest["kind"] in ("PersistentVolume", "PersistentVolumeClaim"):
        # Their specs are immutable once bound: present with our labels is the same object.
        kept = {"kind": manifest["kind"], "metadata": manifest["metadata"]}
    return kept


def redact(manifest: dict[str, Any]) -> dict[str, Any]:
    """A Secret fit for printing or writing to a render folder: keys kept, values masked."""
    if manifest.get("kind") != "Secret":
        return manifest
    return {**manifest, "data": {k: MASK for k in manifest.get("data", {})}}
