"""`k8s.helm`: values layered as Helm layers them, the chart reference checked against the pinned version,
release facts, and the passwords values carry masked."""

from __future__ import annotations

import os
import secrets
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from automation.core.errors import UserError
from automation.core.runner import mask
from automation.core.versions import VERSIONS
from automation.k8s.helm import Release, chart_ref, local_chart_version, merged_values, register_value_secrets
from automation.settings import load_target
from automation.settings.model import Chart
from tests.conftest import REPO, need

CHART = Path(os.environ.get("AIRFLOW_CHART_DIR", REPO.parent / "shared/airflow-chart/chart"))


def values_file(folder: Path, name: str, data: dict) -> str:
    path = folder / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def test_merged_values_layer_in_order(tmp_path: Path) -> None:
    common = values_file(tmp_path, "common.yaml", {"a": "common", "b": "common", "c": "common", "d": "common",
                                                   "m": {"x": "common", "y": "common", "z": "common"},
                                                   "l": [1, 2, 3]})
    overlay = values_file(tmp_path, "overlay.yaml", {"c": "overlay", "d": "overlay", "m": {"z": "overlay"}})
    extra = values_file(tmp_path, "extra.yaml", {"d": "extra", "m": {"new": "extra"}})
    target = replace(load_target("existing"), values=[common, overlay])
    generated = {"b": "generated", "c": "generated", "d": "generated", "m": {"y": "generated"}, "l": [9]}
    assert merged_values(target, generated, [extra]) == {
        "a": "common", "b": "generated", "c": "overlay", "d": "extra",
        "m": {"x": "common", "y": "generated", "z": "overlay", "new": "extra"},
        "l": [9],  # lists are replaced, as Helm does
    }


def test_a_map_replaces_a_scalar_and_null_is_kept(tmp_path: Path) -> None:
    common = values_file(tmp_path, "common.yaml", {"a": 1, "b": {"c": 1}})
    target = replace(load_target("existing"), values=[common])
    assert merged_values(target, {"a": {"now": "a map"}, "b": None}) == {"a": {"now": "a map"}, "b": None}


def test_a_missing_or_bad_values_file_is_a_user_error(tmp_path: Path) -> None:
    target = replace(load_target("existing"), values=[str(tmp_path / "absent.yaml")])
    with pytest.raises(UserError, match=r"Helm values file .*absent\.yaml does not exist"):
        merged_values(target, {})
    bad = tmp_path / "list.yaml"
    bad.write_text("- a\n- b\n")
    with pytest.raises(UserError, match="a values file must be a mapping"):
        merged_values(replace(target, values=[str(bad)]), {})


def test_repository_chart_ref_pins_the_version() -> None:
    ref = chart_ref(load_target("local"))
    assert ref.args == ["airflow", "--repo", "https://airflow.apache.org", "--version", VERSIONS.chart]
    assert ref.version == VERSIONS.chart and ref.local_path is None


def fake_chart(folder: Path, version: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "Chart.yaml").write_text(f"apiVersion: v2\nname: airflow\nversion: {version}\n")
    return folder


def test_local_chart_folder_must_be_the_pinned_version(tmp_path: Path) -> None:
    folder = fake_chart(tmp_path / "airflow", "1.20.0")
    target = replace(load_target("existing"), chart=Chart(source="path", path=str(folder), version="1.20.0"))
    ref = chart_ref(target)
    assert ref.args == [str(folder)] and ref.local_path == folder and ref.version == "1.20.0"
    pinned = replace(target, chart=Chart(source="path", path=str(folder)))
    with pytest.raises(UserError) as info:
        chart_ref(pinned)
    assert f"is version 1.20.0, the target pins {VERSIONS.chart}" in info.value.problem
    with pytest.raises(UserError, match="does not exist"):
        chart_ref(replace(target, chart=Chart(source="path", path=str(tmp_path / "nowhere"))))


def test_local_chart_version_reads_a_packaged_chart(tmp_path: Path) -> None:
    folder = fake_chart(tmp_path / "airflow", "1.19.0")
    package = tmp_path / "airflow-1.19.0.tgz"
    with tarfile.open(package, "w:gz") as tar:
        tar.add(folder, arcname="airflow")
    assert local_chart_version(package) == "1.19.0"
    (tmp_path / "junk.tgz").write_bytes(b"not a tarball")
    with pytest.raises(UserError, match="is not a Helm chart"):
        local_chart_version(tmp_path / "junk.tgz")


def test_the_real_chart_is_the_pinned_one() -> None:
    need(CHART.is_dir(), f"the Airflow chart at {CHART} (set AIRFLOW_CHART_DIR)")
    assert local_chart_version(CHART) == VERSIONS.chart
    target = replace(load_target("existing"), chart=Chart(source="path", path=str(CHART)))
    assert chart_ref(target).local_path == CHART


def test_release_facts() -> None:
    deployed = Release("airflow", "deployed", f"airflow-{VERSIONS.chart}", 4)
    assert deployed.chart_version == VERSIONS.chart and not deployed.pending
    for status in ("pending-install", "pending-upgrade", "pending-rollback"):
        assert Release("airflow", status, "airflow-1.20.0", 2).pending
    assert not Release("airflow", "failed", "airflow-1.20.0", 2).pending


def test_release_chart_version_of_a_prerelease_chart() -> None:
    assert Release("airflow", "deployed", "airflow-1.22.0-rc1", 1).chart_version == "1.22.0-rc1"


def test_generated_password_is_masked_but_the_shown_login_is_not() -> None:
    generated, db = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    register_value_secrets({"createUserJob": {"defaultUser": {"password": generated}},
                            "data": {"metadataConnection": {"pass": db}}})
    assert mask(f"{generated} {db}") == "****** ******"
    shown = f"shown-{secrets.token_hex(6)}"
    register_value_secrets({"createUserJob": {"defaultUser": {"password": shown}}}, shown_login=shown)
    assert mask(shown) == shown
    register_value_secrets({})  # no login, no database: nothing to do
