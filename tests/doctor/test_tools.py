"""Tools and the kubectl / API server skew."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from automation.doctor.checks.context import check_context
from automation.doctor.checks.tools import check_tools, skew
from automation.doctor.probe import Probe
from automation.k8s.cluster import Unreachable


def test_skew_follows_the_one_minor_version_policy() -> None:
    assert skew("1.37.1", "v1.36.2") is None
    assert skew("1.35.0", "v1.36.2") is None
    assert "more than 1 minor version" in (skew("1.34.0", "v1.36.2") or "")
    assert skew("2.0.0", "v1.36.2") is not None


def test_a_missing_required_tool_blocks_and_says_how_to_install(probe_for: Callable[..., Probe],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    probe = probe_for("existing")
    monkeypatch.setattr(probe.runner, "which", lambda name: None if name == "helm" else f"/usr/bin/{name}")
    monkeypatch.setattr(probe.runner, "try_read", lambda cmd, **kw: None)  # every version unreadable: "0"
    finding = check_tools(probe)
    assert finding.status == "blocker"
    assert "helm not found" in finding.message and "kubectl 0 is older than" in finding.message
    assert "run `nox -s tools`" in finding.fix


def test_an_unreachable_context_blocks_and_names_it(probe_for: Callable[..., Probe]) -> None:
    probe = probe_for("existing")
    probe.once("state", lambda: Unreachable("connection refused"))
    finding = check_context(probe)
    assert finding.status == "blocker" and "not reachable (connection refused)" in finding.message
    assert "existing.context" in finding.fix
