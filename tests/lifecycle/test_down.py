"""`down --purge` on a target without a cluster this machine reaches (Cloud Composer) is refused in one line,
before anything is asked or deleted."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from automation.core import paths
from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.lifecycle.down import down
from automation.providers.base import UpOptions
from automation.settings import load_target


def test_purge_of_a_composer_environment_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AUTOMATION_SETTINGS", raising=False)
    monkeypatch.setattr(paths, "STATE_ROOT", tmp_path / "state")
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail(f"asked: {prompt}"))
    with pytest.raises(UserError, match="purging a Composer environment is not automated") as refused:
        down(Runner(out=io.StringIO()), load_target("composer"), UpOptions(purge=True))
    assert "gcloud composer environments delete" in (refused.value.fix or "")
