"""Loading targets.yaml into typed objects, overlays, and the invalid files that must name their key."""

from __future__ import annotations

from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.core.versions import VERSIONS
from automation.settings import load, load_target


def overlay(tmp_path: Path, text: str) -> str:
    path = tmp_path / "overlay.yaml"
    path.write_text(text)
    return str(path)


def test_local_target_defaults_are_the_documented_ones() -> None:
    target = load_target("local")
    assert target.provider == "minikube"
    assert target.minikube is not None
    assert (target.minikube.cpus, target.minikube.memory_mb) == (4, 6144)
    assert target.namespace == "airflow"
    assert target.chart.version == VERSIONS.chart
    assert target.values == ["helm/values.yaml", "helm/values-local.yaml"]
    assert "example1" in target.projects


def test_every_committed_target_loads() -> None:
    settings = load()
    for name in settings.names:
        assert settings.target(name).name == name


def test_overlay_extends_and_accumulates_values(tmp_path: Path) -> None:
    extra = overlay(tmp_path, """
targets:
  mine:
    extends: existing
    namespace: team-a
    values: [helm/values-mine.yaml]
""")
    target = load_target("mine", [extra])
    assert target.provider == "existing"
    assert target.namespace == "team-a"
    assert target.values == ["helm/values.yaml", "helm/values-local.yaml", "helm/values-mine.yaml"]


def test_repo_placeholder_expands_to_this_checkout() -> None:
    target = load_target("existing")
    assert target.mounts is not None
    assert target.mounts.dags.node == str(Path(__file__).resolve().parents[2] / "dags")


def test_cli_overrides_resources() -> None:
    target = load_target("local", cpus=4, memory_mb=6000)
    assert target.minikube is not None
    assert (target.minikube.cpus, target.minikube.memory_mb) == (4, 6000)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("targets:\n  local:\n    minikube: {cpus: -2}\n", "targets.local.minikube.cpus"),
        ("targets:\n  local:\n    namespace: Air_Flow\n", "targets.local.namespace: expected a lowercase DNS name"),
        ("targets:\n  local:\n    chart: {version: latest}\n", "targets.local.chart.version"),
        ("targets:\n  local:\n    nmespace: x\n", "targets.local.nmespace: unknown key"),
        ("targets:\n  local:\n    provider: docker-swarm\n", "targets.local.provider"),
        ("targets:\n  broken: {}\n", "targets.broken.provider: missing required key"),
        ("targets:\n  local:\n    ui: {port: 80}\n", "targets.local.ui.port"),
        ("targets:\n  local:\n    keep_failed_pods: -1\n", "targets.local.keep_failed_pods"),
        ("targets:\n  local:\n    logs: {size: lots}\n", "targets.local.logs.size: expected a quantity"),
        ("targets:\n  g:\n    provider: gke\n", "targets.g.gke: missing"),
        ("targets:\n  a: {extends: b, provider: existing}\n  b: {extends: a}\n", "extend each other in a cycle"),
        ("targets:\n  r:\n    extends: existing\n    provider: composer-rehearsal\n    rehearses: nope\n",
         "targets.r.rehearses: unknown target 'nope'"),
        ("targets:\n  r:\n    extends: existing\n    provider: composer-rehearsal\n",
         "targets.r.composer: missing, provider 'composer-rehearsal' needs it"),
        ("targets:\n  composer:\n    composer: {image_version: composer-2.9.0-airflow-2.10.2}\n",
         "targets.composer.composer.image_version: a Composer 3 image version"),
        ("target:\n  local: {}\n", "unknown top-level key 'target'"),
        ("targets:\n  local:\n    minikube: [1, 2\n", "invalid YAML at line 4"),
    ],
)
def test_invalid_settings_name_file_and_key(tmp_path: Path, body: str, expected: str) -> None:
    extra = overlay(tmp_path, body)
    name = body.split("\n")[1].strip().split(":")[0] if body.startswith("targets") else "local"
    with pytest.raises(UserError) as info:
        load_target(name if name not in ("a",) else "a", [extra])
    line = info.value.line()
    assert expected in line
    assert "\n" not in line


def test_a_rehearsal_takes_the_rehearsed_composer_block(tmp_path: Path) -> None:
    extra = overlay(tmp_path, "targets:\n  composer:\n    composer: {image_version: composer-3-airflow-3.1.5}\n")
    rehearsal = load_target("composer-rehearsal", [extra])
    assert rehearsal.composer == load_target("composer", [extra]).composer
    assert rehearsal.composer is not None and rehearsal.composer.airflow_version == "3.1.5"
