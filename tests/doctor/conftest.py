"""A target's provider whose cluster is an in-memory fake (objects by kind), for the doctor's checks."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from automation.core import paths
from automation.core.runner import Runner
from automation.doctor.probe import Probe
from automation.k8s.cluster import LiveCluster
from automation.providers import provider_for
from automation.settings import load_target


class FakeCluster(LiveCluster):
    """Answers get/list from `objects` (kind -> list of objects); applies and deletes are recorded."""

    def __init__(self, objects: dict[str, list[dict[str, Any]]] | None = None):
        self.objects = objects or {}
        self.applied: list[dict[str, Any]] = []
        self.deleted: list[tuple[str, str]] = []

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        return next((o for o in self.objects.get(kind, []) if o["metadata"]["name"] == name), None)

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list[dict[str, Any]]:
        return list(self.objects.get(kind, []))

    def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        self.applied.append(manifest)
        return manifest

    def delete(self, kind: str, name: str, namespace: str | None = None, grace_seconds: int | None = None) -> bool:
        self.deleted.append((kind, name))
        return True


@pytest.fixture
def probe_for(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Probe]:
    """`probe_for(TARGET, cluster)`: a Probe on the repository's target, its cluster `cluster` (None: the real
    connection is never made, the cluster counts as unreachable only if the test says so)."""
    monkeypatch.delenv("AUTOMATION_SETTINGS", raising=False)
    monkeypatch.setattr(paths, "STATE_ROOT", tmp_path / "state")

    def make(name: str, cluster: LiveCluster | None = None, **overrides: object) -> Probe:
        provider = provider_for(Runner(out=io.StringIO()), load_target(name, **overrides))
        if cluster is not None:
            assert provider.cluster is not None
            provider.cluster._live = cluster  # the fake stands for the connection made once per command
        return Probe(provider)

    return make
