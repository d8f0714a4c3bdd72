"""The airflow api check: n/a where the API is reached through the UI port-forward (Composer's path runs through the
real gcloud in tests/providers/test_composer_through_gcloud.py)."""

from __future__ import annotations

from collections.abc import Callable

from automation.doctor.checks.served_api import check_served_api
from automation.doctor.probe import Probe


def test_helm_targets_are_not_applicable(probe_for: Callable[..., Probe]) -> None:
    finding = check_served_api(probe_for("existing"))
    assert finding.status == "n/a" and "UI port-forward" in finding.message
