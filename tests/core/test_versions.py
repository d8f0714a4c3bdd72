"""`versions`: version strings compare as numbers, and every linter is pinned to one exact release."""

from __future__ import annotations

import re

import pytest

from automation.core.versions import LINT_TOOLS, VERSIONS, as_dict, at_least, parse


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


def test_lint_tools_are_pinned_exactly() -> None:
    requirements = LINT_TOOLS.requirements()
    assert len(requirements) == 4
    for requirement in requirements:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*==\d+(\.\d+)+", requirement), requirement
    assert f"ruff=={LINT_TOOLS.ruff}" in requirements
    assert f"import-linter=={LINT_TOOLS.import_linter}" in requirements
