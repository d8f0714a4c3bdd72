"""Overrides of Airflow's methods that cannot take Airflow's arguments: on plain functions, then through the real
parse of a DAG folder under the installed Airflow and provider."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from automation.dags.gate import check, parse
from automation.dags.overrides import cannot_take
from tests.upgrade.test_check import BROKEN


def original(self: Any, pod: Any, istio_enabled: bool = False, container_name: str = "base",
             do_xcom_push: bool = False) -> None: ...


def test_an_override_that_cannot_take_a_parameter_of_the_original_is_named() -> None:
    def older(self: Any, pod: Any, istio_enabled: bool = False, container_name: str = "base") -> None: ...

    def passes_everything_on(self: Any, pod: Any, *args: Any, **kwargs: Any) -> None: ...

    def renamed(self: Any, pod: Any, istio: bool = False, container_name: str = "base",
                do_xcom_push: bool = False) -> None: ...

    why = cannot_take(older, original) or ""
    assert why.startswith("takes (self, pod, istio_enabled") and "container_name" in why.split("but")[0]
    assert "do_xcom_push" not in why.split("but")[0] and "do_xcom_push" in why.split("but")[1]
    assert cannot_take(passes_everything_on, original) is None
    assert "istio_enabled" in (cannot_take(renamed, original) or "")  # a call by keyword fails


def test_a_keyword_only_parameter_of_the_original_must_be_taken() -> None:
    def build(self: Any, context: Any = None, *, dry_run: bool = False) -> None: ...

    def without_it(self: Any, context: Any = None) -> None: ...

    def with_kwargs(self: Any, context: Any = None, **kwargs: Any) -> None: ...

    assert "dry_run" in (cannot_take(without_it, build) or "")
    assert cannot_take(with_kwargs, build) is None


def test_the_parse_names_an_old_override_and_the_gate_refuses_it(tmp_path: Path) -> None:
    (tmp_path / "old_signature.py").write_text(BROKEN["old_signature.py"])
    report = parse(tmp_path)
    assert report.import_errors == {}
    assert list(report.overrides) == ["old_signature.py:PatientPodManager.await_pod_completion"]
    assert "PodManager.await_pod_completion with its own arguments" in report.overrides[
        "old_signature.py:PatientPodManager.await_pod_completion"]
    problems = [p for p in check(report) if p.startswith("old_signature.py:PatientPodManager.await_pod_completion: ")]
    assert len(problems) == 1 and problems[0].endswith("-- accept them (or *args, **kwargs) and pass them on")


def test_the_repositorys_own_helpers_take_what_the_installed_provider_passes() -> None:
    from automation.core.paths import DAGS_FOLDER

    assert parse(DAGS_FOLDER).overrides == {}
