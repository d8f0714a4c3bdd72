"""Worker images: images.json's tags, as the target's pods name them, on every node (or in its registry)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from automation.doctor.checks import images as check
from automation.doctor.probe import Probe
from tests.doctor.conftest import FakeCluster


def nodes(*names: str) -> FakeCluster:
    return FakeCluster({"Node": [{"metadata": {"name": "n"}, "status": {"images": [{"names": list(names)}]}}]})


@pytest.fixture(autouse=True)
def tags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(check, "read_tags", lambda: {"pandas-basic": "aaaa", "notebook": "bbbb"})


def test_images_on_every_node_are_ok(probe_for: Callable[..., Probe]) -> None:
    probe = probe_for("existing", nodes("docker.io/library/pandas-basic:aaaa", "docker.io/library/notebook:bbbb"))
    assert check.check_images(probe).status == "ok"


def test_a_missing_image_blocks_and_names_images(probe_for: Callable[..., Probe]) -> None:
    finding = check.check_images(probe_for("existing", nodes("docker.io/library/pandas-basic:aaaa")))
    assert finding.status == "blocker" and finding.message.startswith("notebook:bbbb not on the nodes")
    assert finding.fix == "nox -s images -- --target existing"


def test_an_image_held_only_under_a_registry_name_is_missing(probe_for: Callable[..., Probe]) -> None:
    # Left by an earlier registry delivery: this target's pods name pandas-basic:aaaa, which the node lacks.
    probe = probe_for("existing", nodes("127.0.0.1:5000/pandas-basic:aaaa", "docker.io/library/notebook:bbbb"))
    finding = check.check_images(probe)
    assert finding.status == "blocker" and finding.message.startswith("pandas-basic:aaaa not on the nodes")


def test_the_registry_prefix_is_part_of_the_name(probe_for: Callable[..., Probe], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    overlay = tmp_path / "o.yaml"
    overlay.write_text("targets:\n  reg:\n    extends: existing\n    images: {load: registry, registry: "
                       "127.0.0.1:5999}\n")
    monkeypatch.setenv("AUTOMATION_SETTINGS", str(overlay))
    from automation.settings import load_target

    probe = probe_for("existing", nodes("docker.io/library/pandas-basic:aaaa", "docker.io/library/notebook:bbbb"))
    probe.target = load_target("reg")
    probe.provider.target = probe.target
    asked: list[str] = []
    monkeypatch.setattr(check, "manifest_exists", lambda ref: asked.append(ref) or ref.endswith("notebook:bbbb"))
    finding = check.check_images(probe)
    assert finding.status == "blocker" and "127.0.0.1:5999/pandas-basic:aaaa not on the nodes nor in" in \
        finding.message
    assert asked == ["127.0.0.1:5999/notebook:bbbb", "127.0.0.1:5999/pandas-basic:aaaa"]


def test_composer_is_not_checked_and_says_why(probe_for: Callable[..., Probe]) -> None:
    finding = check.check_images(probe_for("composer"))
    assert finding.status == "n/a" and "Artifact Registry" in finding.message
