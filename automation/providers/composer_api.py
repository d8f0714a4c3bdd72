"""The shapes of Cloud Composer's API the product reads and writes: the environment's software config and the
single-object documents its user-workloads commands take."""

from __future__ import annotations

from typing import Any

from automation.k8s.objects import ConfigMap, Secret

# gcloud's command group for each kind of user-workloads object.
WORKLOAD_GROUP = {"ConfigMap": "user-workloads-config-maps", "Secret": "user-workloads-secrets"}


def software_config(env: dict[str, Any]) -> dict[str, Any]:
    """The environment's `config.softwareConfig` (image version, environment variables), as describe shows it."""
    return dict((env.get("config") or {}).get("softwareConfig") or {})


def composer_document(obj: ConfigMap | Secret) -> dict[str, Any]:
    """The single-object YAML Composer's user-workloads commands take: name and data (Secret data base64)."""
    rendered = obj.render()
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": rendered["kind"], "metadata": {"name": obj.name}}
    if isinstance(obj, Secret):
        doc["type"] = "Opaque"
    doc["data"] = rendered["data"]
    return doc
