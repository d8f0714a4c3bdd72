"""`core.hints`: a next-step command keeps the target and every settings file, in order."""

from __future__ import annotations

from automation.core.hints import nox_command


def test_a_hint_keeps_the_target_and_every_settings_file() -> None:
    assert nox_command("e2e", "gke", ["gcp.yaml", "more.yaml"]) == \
        "nox -s e2e -- --target gke --settings gcp.yaml --settings more.yaml"
    assert nox_command("up", "local") == "nox -s up -- --target local"


def test_arguments_come_before_the_target() -> None:
    assert nox_command("logs", "local", ["gcp.yaml"], "scheduler") == \
        "nox -s logs -- scheduler --target local --settings gcp.yaml"
