"""`down --purge` on Cloud Composer: it names what goes (what `up` made on the environment, never the environment)
and asks before anything is read or deleted; the purge itself runs through the real gcloud in
tests/providers/test_composer_through_gcloud.py."""

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


def test_purge_on_composer_asks_first_naming_what_goes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("AUTOMATION_SETTINGS", raising=False)
    monkeypatch.setattr(paths, "STATE_ROOT", tmp_path / "state")
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: asked.append(prompt) or "n")
    runner = Runner(out=io.StringIO())
    with pytest.raises(UserError, match="purge cancelled"):
        down(runner, load_target("composer"), UpOptions(purge=True))
    assert asked == ["Delete what `up` made on Composer environment (its user-workloads objects, AUTOMATION_* "
                     "variables, DAG files, marked connections, variables and pools; the environment and data stay) "
                     "for target composer? [y/N] "]
    assert runner.history == []
