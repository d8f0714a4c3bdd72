"""Converging objects: apply a manifest only when the cluster does not already hold it (server-side apply),
and Secrets fit for printing."""

from __future__ import annotations

from typing import Any

from automation.core.errors import UserError
from automation.core.runner import MASK, Runner
from automation.k8s.cluster import ClusterState, LiveCluster
from automation.k8s.objects import MANAGED_BY, MANAGED_LABEL


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


SERVICE_ACCOUNT_TOKEN = "kubernetes.io/service-account-token"
READ = object()  # `ensure`'s default: read the object from the cluster


def listed(state: ClusterState, kind: str, namespace: str) -> dict[str, dict[str, Any]]:
    """Every object of `kind` in `namespace` by name: one list for many `ensure` calls (one read per object
    would grow with the number of projects)."""
    # A list's items carry no kind of their own: put it back, as a single read returns it.
    return {obj["metadata"]["name"]: {**obj, "kind": kind} for obj in state.list(kind, namespace)}


def owned(obj: dict[str, Any]) -> bool:
    """Made by this tool (every object it makes carries its managed-by label)."""
    return ((obj.get("metadata") or {}).get("labels") or {}).get(MANAGED_LABEL) == MANAGED_BY


def ensure(runner: Runner, state: ClusterState, manifest: dict[str, Any], *, create_only: bool = False,
           current: Any = READ, owned_only: bool = False) -> str:
    """Apply `manifest` unless the cluster already holds it. Returns 'created', 'updated', 'unchanged', or
    'foreign' for an `owned_only` object of the same name that this tool did not make (left as it is).

    `create_only` objects (generated secrets) are never rewritten once present. `current`: the object as
    already read (from `listed`), or None when absent; read here when not given. A ConfigMap's or Secret's
    data must be equal, not just included: a key removed from the files is removed from the cluster too
    (server-side apply drops the fields this tool's field manager set and no longer sets).
    """
    meta = manifest["metadata"]
    if current is READ:
        current = state.get(manifest["kind"], meta["name"], meta.get("namespace"))
    if current is not None and owned_only and not owned(current):
        runner.say(f"    warning: {describe(manifest)} exists but was not made by this tool: left as it is -- "
                   f"delete it, or label it {MANAGED_LABEL}={MANAGED_BY}, to let `up` manage it")
        return "foreign"
    if current is not None and (create_only or (contains(current, _comparable(manifest))
                                                and _same_data(current, manifest))):
        runner.ok(f"{describe(manifest)} unchanged")
        return "unchanged"
    verb = "create" if current is None else "update"
    runner.plan(f"apply {describe(manifest)} ({verb}, server-side)")
    if isinstance(state, LiveCluster) and not runner.dry_run:
        state.apply(manifest)
    elif isinstance(state, LiveCluster) and runner.server_dry_run:
        validate(runner, state, [manifest])
    return "created" if current is None else "updated"


def validate(runner: Runner, state: LiveCluster, manifests: list[dict[str, Any]]) -> int:
    """--dry-run=server: each manifest sent to the API server as a server-side apply with dryRun=All (schema,
    defaults, admission webhooks), nothing stored. A refusal stops the command with the server's reason. Objects
    of a namespace that does not exist yet cannot be checked (a dry run creates nothing): said, and counted out.
    How many were accepted."""
    accepted = 0
    for manifest in manifests:
        error = state.dry_run(manifest)
        namespace = (manifest.get("metadata") or {}).get("namespace")
        if error is not None and namespace and f'namespaces "{namespace}" not found' in error:
            runner.say(f"      not checked by the API server: namespace {namespace} does not exist yet")
            continue
        if error is not None:
            raise UserError(f"{describe(manifest)}: refused by the API server (dry run): {error}",
                            "fix it where it comes from (k8s/PROJECT files, targets.yaml, values files), then run "
                            "the same command again")
        accepted += 1
    if len(manifests) == 1 and accepted:
        runner.say("      accepted by the API server (dry run)")
    return accepted


def reclaim_released(runner: Runner, state: ClusterState, volume: dict[str, Any]) -> bool:
    """A PersistentVolume of ours left Released by a claim deleted outside `down --purge` (its namespace
    deleted by hand) still names that claim's uid, so the claim `up` makes again would wait forever: the uid is
    dropped and the volume binds to the new claim, with its data (reclaim policy Retain). Returns whether it
    was."""
    name = volume["metadata"]["name"]
    current = state.get("PersistentVolume", name)
    if current is None or not owned(current) or (current.get("status") or {}).get("phase") != "Released":
        return False
    claim = (current.get("spec") or {}).get("claimRef") or {}
    runner.say(f"    PersistentVolume/{name}: released by a deleted claim {claim.get('namespace')}/"
               f"{claim.get('name')}: reclaimed for the new one (its data is kept)")
    runner.plan(f"patch PersistentVolume/{name}: drop spec.claimRef.uid (merge patch)")
    if isinstance(state, LiveCluster) and not runner.dry_run:
        state.merge_patch("PersistentVolume", name, {"spec": {"claimRef": {"uid": None, "resourceVersion": None}}})
    return True


# What names a volume's place in each source kind the product writes (a bound volume's spec cannot change).
_SOURCE_KEYS = {"hostPath": ("path",), "local": ("path",), "csi": ("driver", "volumeHandle"), "nfs": ("server", "path")}


def moved_source(current: dict[str, Any] | None, manifest: dict[str, Any]) -> str | None:
    """How an existing PersistentVolume's source differs from the one wanted ('serves A, the target wants B'), or
    None. Left alone, the volume would go on serving the old place (a checkout moved, a bucket renamed)."""
    if current is None:
        return None
    have, want = current.get("spec") or {}, manifest.get("spec") or {}
    for kind, fields in _SOURCE_KEYS.items():
        if kind not in want:
            continue
        old = ":".join(str((have.get(kind) or {}).get(f, "")) for f in fields)
        new = ":".join(str(want[kind].get(f, "")) for f in fields)
        if old != new:
            return f"serves {old if kind in have else 'another kind of source'}, the target wants {new}"
    return None


def _comparable(manifest: dict[str, Any]) -> dict[str, Any]:
    # The server fills defaults and turns a claim's spec into its own; compare only what we set and own.
    kept = {k: v for k, v in manifest.items() if k not in ("apiVersion",)}
    if manifest["kind"] in ("PersistentVolume", "PersistentVolumeClaim"):
        # Their specs are immutable once bound: present with our labels is the same object.
        kept = {"kind": manifest["kind"], "metadata": manifest["metadata"]}
    return kept


def _same_data(current: dict[str, Any], manifest: dict[str, Any]) -> bool:
    if manifest["kind"] not in ("ConfigMap", "Secret") or manifest.get("type") == SERVICE_ACCOUNT_TOKEN:
        return True  # a ServiceAccount token's data is the token controller's to write
    return bool((current.get("data") or {}) == (manifest.get("data") or {}))


def prune(runner: Runner, state: ClusterState, known: dict[str, dict[str, Any]], kind: str, namespace: str,
          label: str, keep: set[str]) -> list[str]:
    """Delete the `kind` objects among `known` that this tool made with `label` and no longer wants (their
    label value not in `keep`); objects it did not make are never touched. Names deleted."""
    deleted = []
    for name, obj in sorted(known.items()):
        value = ((obj.get("metadata") or {}).get("labels") or {}).get(label)
        if value is None or value in keep or not owned(obj):
            continue
        runner.plan(f"delete {kind}/{name} -n {namespace} ({label}={value} is no longer in the settings)")
        if isinstance(state, LiveCluster) and not runner.dry_run:
            state.delete(kind, name, namespace)
        deleted.append(name)
    return deleted


def redact(manifest: dict[str, Any]) -> dict[str, Any]:
    """A Secret fit for printing or writing to a render folder: keys kept, values masked."""
    if manifest.get("kind") != "Secret":
        return manifest
    return {**manifest, "data": {k: MASK for k in manifest.get("data", {})}}
