"""Airflow's secrets: present, and unchanged since `up` wrote them (by the sha256 per key it records)."""

from __future__ import annotations

import base64
from collections.abc import Callable

from automation.core.runner import register_secret
from automation.doctor.checks.airflow_secrets import check_secrets
from automation.doctor.probe import Probe
from automation.k8s import airflow_secrets
from tests.doctor.conftest import FakeCluster

VALUES = {"fernet-key": "f" * 44, "api-secret-key": "a" * 43, "jwt-secret": "j" * 43,
          "webserver-secret-key": "w" * 43}


def written(probe: Probe, values: dict[str, str] = VALUES) -> dict:
    """The core Secret as `up` writes it and the cluster returns it."""
    return airflow_secrets.core_secret_of(probe.target, values).render()


def test_unchanged_since_up_is_ok(probe_for: Callable[..., Probe]) -> None:
    probe = probe_for("existing")
    probe.provider.cluster._live = FakeCluster({"Secret": [written(probe)]})
    finding = check_secrets(probe)
    assert finding.status == "ok" and "unchanged since `up` wrote it" in finding.message


def test_a_key_changed_behind_ups_back_blocks_and_names_the_key_not_the_value(
        probe_for: Callable[..., Probe]) -> None:
    probe = probe_for("existing")
    secret = written(probe)
    register_secret("NEW" * 15)
    secret["data"]["fernet-key"] = base64.b64encode(b"NEW" * 15).decode()
    probe.provider.cluster._live = FakeCluster({"Secret": [secret]})
    finding = check_secrets(probe)
    assert finding.status == "blocker" and "fernet-key changed since `up` wrote it" in finding.message
    assert "jwt-secret" not in finding.message.split(":")[1]
    assert "rotate-fernet-key" in finding.fix and airflow_secrets.FINGERPRINT_ANNOTATION in finding.fix
    assert not any(value in finding.line() for value in [*VALUES.values(), "NEW" * 15])


def test_a_secret_without_a_record_warns_and_up_records_it(probe_for: Callable[..., Probe]) -> None:
    probe = probe_for("existing")
    secret = written(probe)
    del secret["metadata"]["annotations"]
    probe.provider.cluster._live = FakeCluster({"Secret": [secret]})
    finding = check_secrets(probe)
    assert finding.status == "warn" and "no fingerprint" in finding.message
    assert finding.fix.startswith("nox -s up -- --target existing")


def test_a_missing_key_or_secret_blocks(probe_for: Callable[..., Probe]) -> None:
    finding = check_secrets(probe_for("existing", FakeCluster({})))
    assert finding.status == "blocker" and "Secret/airflow-core-secrets absent" in finding.message
    probe = probe_for("existing")
    partial = written(probe, {k: v for k, v in VALUES.items() if k != "jwt-secret"})
    probe.provider.cluster._live = FakeCluster({"Secret": [partial]})
    finding = check_secrets(probe)
    assert finding.status == "blocker" and "lacks jwt-secret" in finding.message
