"""`versions`: version strings compare as numbers, and every pinned tool release has its checksums."""

from __future__ import annotations

import re

import pytest

from automation.core.versions import TOOL_SHA256, VERSIONS, as_dict, at_least, parse


@pytest.mark.parametrize(("text", "parsed"), [
    ("v1.36.2+k3s1", (1, 36, 2)),
    ("1.38.1", (1, 38, 1)),
    ("v3.19.0-rc.1", (3, 19, 0)),
    (" 20.10.0\n", (20, 10, 0)),
    ("1.30", (1, 30)),
    ("3.x", (3, 0)),
])
def test_parse(text: str, parsed: tuple[int, ...]) -> None:
    assert parse(text) == parsed


def test_at_least_compares_numerically_not_as_text() -> None:
    assert at_least("1.10.0", "1.9.0")
    assert not at_least("1.9.9", "1.10.0")
    assert at_least("v3.19.0", "3.14.0") and at_least("3.14.0", "3.14.0")
    assert not at_least("0", VERSIONS.min_helm)


def test_pinned_tools_meet_their_own_minimums() -> None:
    assert at_least(VERSIONS.helm, VERSIONS.min_helm)
    assert at_least(VERSIONS.kubectl, VERSIONS.min_kubectl)
    assert at_least(VERSIONS.minikube, VERSIONS.min_minikube)
    assert as_dict()["chart"] == VERSIONS.chart


@pytest.mark.parametrize("tool", ["minikube", "kubectl", "helm"])
def test_each_pinned_tool_release_has_its_checksums(tool: str) -> None:
    """A version bump without the new release's sha256 values fails here (and `tools` would refuse it)."""
    sums = TOOL_SHA256[(tool, getattr(VERSIONS, tool))]
    assert set(sums) == {"linux-amd64", "linux-arm64", "darwin-amd64", "darwin-arm64"}
    for value in sums.values():
        assert re.fullmatch(r"[0-9a-f]{64}", value), value
    assert len(set(sums.values())) == len(sums)
