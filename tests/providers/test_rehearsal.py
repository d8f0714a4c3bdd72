"""`providers.rehearsal`: Composer's task contract on a reachable cluster - the rehearsed image's Airflow,
task pods in composer-user-workloads with no claims, code and data in the Composer target's own buckets, the
emulator endpoint the one difference; the worker account the chart renders is the one allowed to start them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import jmespath
import pytest

from automation.core.errors import UserError
from automation.core.versions import VERSIONS
from automation.providers import Provider
from automation.providers.composer import ComposerProvider
from automation.providers.composer_pod_rules import lint_pod
from automation.providers.rehearsal import ComposerRehearsalProvider
from automation.settings.contract import COMPOSER_NAMESPACE, TaskPodFacts, emulator_env
from tests.chart.helpers import render_chart
from tests.providers.conftest import output


@pytest.fixture
def rehearsal(build: Callable[..., Provider]) -> ComposerRehearsalProvider:
    provider = build("composer-rehearsal")
    assert isinstance(provider, ComposerRehearsalProvider)
    return provider


def test_task_facts_are_composers_but_the_emulator(rehearsal: ComposerRehearsalProvider,
                                                   build: Callable[..., Provider]) -> None:
    composer = build("composer")
    assert isinstance(composer, ComposerProvider)
    ours, theirs = rehearsal.task_pod_facts(), composer.task_pod_facts()
    assert ours.storage_emulator_host == "http://gcs-emulator.airflow.svc.cluster.local:9023"
    # Everything a task pod sees is Composer's, field by field, except the target's name and the emulator.
    assert replace(ours, target=theirs.target, storage_emulator_host="", image_registry=theirs.image_registry) \
        == theirs
    assert (ours.namespace, ours.dags_claim, ours.data_claim) == (COMPOSER_NAMESPACE, "", "")


def test_the_composer_block_is_the_rehearsed_targets(rehearsal: ComposerRehearsalProvider,
                                                     build: Callable[..., Provider]) -> None:
    assert rehearsal.target.rehearses == "composer"
    assert rehearsal.composer == build("composer").target.composer


def test_airflow_version_is_the_composer_images_unless_set(rehearsal: ComposerRehearsalProvider,
                                                           build: Callable[..., Provider]) -> None:
    assert rehearsal.composer.image_version == "composer-3-airflow-3.1.7-build.2"
    assert rehearsal.airflow_version() == "3.1.7"
    assert rehearsal.chart_values()["airflowVersion"] == "3.1.7"
    pinned = ComposerRehearsalProvider(rehearsal.runner, replace(rehearsal.target, airflow_version=VERSIONS.airflow))
    assert pinned.airflow_version() == VERSIONS.airflow
    assert build("composer").airflow_version() == "3.1.7"


def test_airflow_components_get_the_contract_the_dags_read(rehearsal: ComposerRehearsalProvider) -> None:
    env = {e["name"]: e["value"] for e in rehearsal.chart_values()["env"]}
    assert TaskPodFacts.from_env(env) == rehearsal.task_pod_facts()


def test_only_airflows_own_claims(rehearsal: ComposerRehearsalProvider) -> None:
    assert [v.name for v in rehearsal.volumes()] == ["airflow-logs", "airflow-dags"]
    assert rehearsal.node_folders() == [rehearsal.target.logs.node_path]


def test_project_objects_live_where_task_pods_run(rehearsal: ComposerRehearsalProvider) -> None:
    namespaces = {obj.namespace for obj in rehearsal.project_objects()}
    assert namespaces == {COMPOSER_NAMESPACE}
    docs = rehearsal.desired_objects()
    kinds = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert ("Namespace", COMPOSER_NAMESPACE) in kinds and ("Namespace", "airflow") in kinds
    assert kinds.index(("Namespace", COMPOSER_NAMESPACE)) < kinds.index(("Role", "airflow-task-pods"))


def test_the_task_role_is_bound_to_the_worker_account_the_chart_renders(
        rehearsal: ComposerRehearsalProvider) -> None:
    """Two sides of one name: the RoleBinding's subject and the ServiceAccount the chart gives workers."""
    binding = next(d for d in rehearsal.extra_objects() if d["kind"] == "RoleBinding")
    subject = binding["subjects"][0]
    accounts = render_chart({}, target="composer-rehearsal")
    workers = jmespath.search("[?kind=='ServiceAccount' && metadata.labels.component=='worker'].metadata.name",
                              accounts)
    assert workers == [subject["name"]] and subject["namespace"] == rehearsal.target.namespace
    role = next(d for d in rehearsal.extra_objects() if d["kind"] == "Role")
    assert {"create", "delete", "watch"} <= set(jmespath.search("rules[?resources[0]=='pods'] | [0].verbs", role))


def test_emulator_image_is_the_one_up_built(rehearsal: ComposerRehearsalProvider) -> None:
    assert rehearsal.tool_images == ("gcs-emulator",)
    assert rehearsal.tool_image("gcs-emulator") == "gcs-emulator:unbuilt"
    rehearsal.tool_tags_file().parent.mkdir(parents=True, exist_ok=True)
    rehearsal.tool_tags_file().write_text('{"gcs-emulator": "0123456789abcdef"}')
    deployment = next(d for d in rehearsal.extra_objects() if d["kind"] == "Deployment")
    assert jmespath.search("spec.template.spec.containers[0].image", deployment) == "gcs-emulator:0123456789abcdef"


def test_outputs_are_read_from_the_data_bucket(rehearsal: ComposerRehearsalProvider) -> None:
    assert rehearsal.output_location("p", "o.csv") == "gs://my-gcp-project-airflow-data/p/o.csv"
    assert rehearsal.host_mounts() is None and rehearsal.pod_rules() == [lint_pod]


def test_dry_run_plans_buckets_code_and_inputs(rehearsal: ComposerRehearsalProvider) -> None:
    with rehearsal.storage():
        outcome = rehearsal.seed()
    assert outcome["bucket/europe-west1-airflow-00000000-bucket"] == "created"
    out = output(rehearsal)
    assert "port-forward svc/gcs-emulator" in out
    assert "upload 1 file(s) of input/ to gs://my-gcp-project-airflow-data/example1/input/: sales.csv" in out
    assert "of dags/ to gs://europe-west1-airflow-00000000-bucket/dags/" in out


@pytest.mark.parametrize(("change", "message"), [
    ({"namespace": COMPOSER_NAMESPACE}, "that namespace is for task pods"),
    ({"composer": {"environment_bucket": ""}}, "composer.environment_bucket is empty"),
])
def test_refused_settings(build: Callable[..., Provider], change: dict, message: str) -> None:
    provider = build("composer-rehearsal")
    if "composer" in change:
        provider = ComposerRehearsalProvider(provider.runner, replace(
            provider.target, composer=replace(provider.target.composer, **change["composer"])))
    else:
        provider = ComposerRehearsalProvider(provider.runner, replace(provider.target, **change))
    with pytest.raises(UserError, match=message):
        provider.check_resources()


def test_emulator_env_is_empty_without_an_endpoint() -> None:
    assert emulator_env("") == {}
    assert emulator_env("http://h:1")["STORAGE_EMULATOR_HOST"] == "http://h:1"
