"""Findings: one line each, a fix required for anything not ok, exit 1 only on a blocker."""

from __future__ import annotations

import pytest

from automation.doctor.findings import Finding, blocker, exit_code, not_applicable, ok, summary, warn


def test_a_line_shows_status_check_message_and_fix() -> None:
    line = blocker("worker images", "x:1 not on the nodes", "nox -s images -- --target ci").line(15)
    assert line == "BLOCKER  worker images    x:1 not on the nodes -- fix: nox -s images -- --target ci"
    assert ok("tools", "kubectl 1.37").line() == "ok       tools  kubectl 1.37"


def test_a_warning_or_blocker_without_a_fix_is_refused() -> None:
    with pytest.raises(ValueError, match="has no fix"):
        Finding("tools", "warn", "old kubectl")
    with pytest.raises(ValueError, match="has no fix"):
        Finding("tools", "blocker", "no kubectl", "")


def test_exit_code_is_one_only_when_something_blocks() -> None:
    fine = [ok("a", "x"), warn("b", "y", "do z"), not_applicable("c", "cloud")]
    assert exit_code(fine) == 0
    assert exit_code([*fine, blocker("d", "broken", "fix it")]) == 1
    assert summary([*fine, blocker("d", "broken", "fix it")], 2.345) == \
        "doctor: 1 ok, 1 warning(s), 1 blocker(s), 1 not applicable, in 2.3s"
