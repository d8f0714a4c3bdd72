"""Providers built the way the CLI builds them: `provider_for` on a target of the repository's targets.yaml."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from automation.core import paths
from automation.core.runner import Runner
from automation.providers import Provider, provider_for
from automation.settings import load_target
from tests.google_double.fixture import gcloud, google_double  # noqa: F401  (fixtures)


@pytest.fixture
def build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Callable[..., Provider]:
    """`build(NAME)`: the provider of target NAME with a dry-run runner (state kept under tmp_path)."""
    monkeypatch.delenv("AUTOMATION_SETTINGS", raising=False)
    monkeypatch.setattr(paths, "STATE_ROOT", tmp_path / "state")

    def make(name: str, dry_run: bool = True, **overrides: object) -> Provider:
        return provider_for(Runner(dry_run=dry_run, out=io.StringIO()), load_target(name, **overrides))

    return make


def output(provider: Provider) -> str:
    out = provider.runner.out
    assert isinstance(out, io.StringIO)
    return out.getvalue()
