"""`providers.composer`: no claims, no Helm; task pods in composer-user-workloads reading code and data from
buckets; the environment variables updated only when one differs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.k8s.cluster import Unreachable
from automation.k8s.objects import ConfigMap, Secret
from automation.providers import Provider
from automation.providers.composer import ComposerProvider, MadeWorkloads, composer_document
from automation.providers.composer_pod_rules import lint_pod


@pytest.fixture
def composer(build: Callable[..., Provider]) -> ComposerProvider:
    provider = build("composer")
    assert isinstance(provider, ComposerProvider)
    return provider


def test_no_volumes_no_extra_objects_no_cluster(composer: ComposerProvider) -> None:
    assert composer.volumes() == [] and composer.extra_objects() == []
    assert composer.cluster is None and isinstance(composer.state(), Unreachable)
    assert composer.pod_rules() == [lint_pod]


def test_task_env(composer: ComposerProvider) -> None:
    env = composer.task_env()
    assert env["AUTOMATION_TARGET"] == "composer"
    assert env["AUTOMATION_NAMESPACE"] == "composer-user-workloads"
    assert env["AUTOMATION_DAGS_CLAIM"] == env["AUTOMATION_DATA_CLAIM"] == "none"
    assert env["AUTOMATION_CODE_ROOT"] == "gs://europe-west1-airflow-00000000-bucket/dags"
    assert env["AUTOMATION_DATA_ROOT"] == "gs://my-gcp-project-airflow-data"


def test_code_root_accepts_a_gs_url_or_a_bare_bucket(composer: ComposerProvider) -> None:
    for bucket in ("b", "gs://b", "gs://b/"):
        c = replace(composer.composer, environment_bucket=bucket)
        assert ComposerProvider(composer.runner, replace(composer.target, composer=c)).code_root() == "gs://b/dags"
    empty = replace(composer.composer, environment_bucket="")
    assert ComposerProvider(composer.runner, replace(composer.target, composer=empty)).code_root() == ""


def test_outputs_are_under_data_root(composer: ComposerProvider) -> None:
    assert composer.output_location("p", "o.csv") == "gs://my-gcp-project-airflow-data/p/o.csv"


def test_namespace_must_be_composers(composer: ComposerProvider) -> None:
    composer.check_resources()
    with pytest.raises(UserError, match="runs task pods in composer-user-workloads only"):
        ComposerProvider(composer.runner, replace(composer.target, namespace="airflow")).check_resources()


def test_env_variables_updated_only_when_one_differs(composer: ComposerProvider) -> None:
    wanted = composer.task_env()
    current = {"config": {"softwareConfig": {"envVariables": {**wanted, "OTHER": "x"}}}}
    assert composer.ensure_env_variables(current) == "unchanged"
    assert composer.runner.commands() == []
    assert composer.ensure_env_variables({}) == "updated"
    (command,) = composer.runner.commands()
    pairs = ",".join(f"{k}={v}" for k, v in sorted(wanted.items()))
    assert command.startswith("gcloud composer environments update airflow --location europe-west1 "
                              "--project my-gcp-project")
    assert f"--update-env-variables={pairs}" in command


def test_user_workload_documents() -> None:
    secret = composer_document(Secret("s", "ignored", {"k": "v"}))
    assert secret == {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "type": "Opaque",
                      "data": {"k": "dg=="}}
    config = composer_document(ConfigMap("c", "ignored", {"b": "2", "a": "1"}))
    assert config == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}


def test_workloads_of_a_dropped_project_made_here_are_deleted_and_others_never(composer: ComposerProvider) -> None:
    made = MadeWorkloads.load(composer.state_dir() / "workloads.json")
    for kind in ("ConfigMap", "Secret"):
        made.record(kind, "example1")
        made.record(kind, "dropped")
    made.save()
    projects = [ConfigMap("example1", "ns", {"A": "1"}), Secret("example1", "ns", {"B": "2"})]
    outcome = composer.ensure_objects(projects)
    deletes = [c for c in composer.runner.commands() if " delete " in c]
    assert deletes == [
        "gcloud composer environments user-workloads-config-maps delete dropped --location europe-west1 "
        "--project my-gcp-project --environment airflow --quiet",
        "gcloud composer environments user-workloads-secrets delete dropped --location europe-west1 "
        "--project my-gcp-project --environment airflow --quiet"] or all("dropped" in c for c in deletes)
    assert len(deletes) == 2 and all(" delete dropped " in c for c in deletes)
    assert outcome["ConfigMap/dropped"] == outcome["Secret/dropped"] == "deleted"
    assert "example1" not in " ".join(deletes)
    # A dry run records nothing: the next real run still knows both.
    assert MadeWorkloads.load(composer.state_dir() / "workloads.json").dropped(set()) == [
        ("ConfigMap", "dropped"), ("ConfigMap", "example1"), ("Secret", "dropped"), ("Secret", "example1")]


def test_workloads_not_recorded_as_made_here_are_never_deleted(composer: ComposerProvider) -> None:
    composer.ensure_objects([])
    assert [c for c in composer.runner.commands() if " delete " in c] == []


def test_made_workloads_file_is_private_and_survives_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "workloads.json"
    path.write_text("{not json")
    made = MadeWorkloads.load(path)
    assert made.dropped(set()) == []
    made.record("Secret", "p")
    made.save()
    assert path.stat().st_mode & 0o777 == 0o600
    assert MadeWorkloads.load(path).dropped({("Secret", "p")}) == []
