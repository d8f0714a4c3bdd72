"""`providers.rehearsal`: Composer's task contract on a reachable cluster - the rehearsed image's Airflow on
Composer's executor (Celery workers, a Redis broker built here), task pods in composer-user-workloads with no
claims, code and data in the Composer target's own buckets, started through the kubeconfig file at Composer's
path whose identity may run pods there only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import jmespath
import pytest
import yaml

from automation.airflow.endpoint import BearerToken
from automation.core.errors import UserError
from automation.core.versions import VERSIONS
from automation.providers import Provider
from automation.providers.airflow_endpoint import credentials
from automation.providers.base import UpOptions
from automation.providers.composer import ComposerProvider
from automation.providers.composer_pod_rules import lint_pod
from automation.providers.google_sign_in import GOOGLE_SIGN_IN
from automation.providers.rehearsal import TASK_LAUNCHER, ComposerRehearsalProvider
from automation.settings.contract import COMPOSER_KUBE_CONFIG, COMPOSER_NAMESPACE, TaskPodFacts, emulator_env
from tests.chart.helpers import render_chart
from tests.conftest import REPO
from tests.google_double.fixture import Gcloud
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
    assert rehearsal.composer.image_version == "composer-3-airflow-3.3.1-build.10"
    assert rehearsal.airflow_version() == "3.3.1"
    assert rehearsal.chart_values()["airflowVersion"] == "3.3.1"
    pinned = ComposerRehearsalProvider(rehearsal.runner, replace(rehearsal.target, airflow_version=VERSIONS.airflow))
    assert pinned.airflow_version() == VERSIONS.airflow
    assert build("composer").airflow_version() == "3.3.1"


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
    assert kinds.index(("Namespace", COMPOSER_NAMESPACE)) < kinds.index(("Role", TASK_LAUNCHER))


def test_workers_start_task_pods_through_composers_kubeconfig_file(rehearsal: ComposerRehearsalProvider) -> None:
    """Three sides of one path: the file the DAG helpers pass (the facts), the file the chart mounts into the
    workers, and the identity that file names, which may run pods in composer-user-workloads and nowhere else."""
    docs = render_chart(rehearsal.merged_values(UpOptions()))
    worker = jmespath.search("[?kind=='Deployment' && metadata.labels.component=='worker'] | [0]", docs)
    container = jmespath.search("spec.template.spec.containers[?name=='worker'] | [0]", worker)
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == COMPOSER_KUBE_CONFIG)
    assert rehearsal.task_pod_facts().kube_config_file == COMPOSER_KUBE_CONFIG
    volume = next(v for v in worker["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"])
    config_map = next(d for d in rehearsal.extra_objects()
                      if d["kind"] == "ConfigMap" and d["metadata"]["name"] == volume["configMap"]["name"])
    kubeconfig = yaml.safe_load(config_map["data"][mount["subPath"]])
    assert kubeconfig["contexts"][0]["context"]["namespace"] == COMPOSER_NAMESPACE
    token_file = kubeconfig["users"][0]["user"]["tokenFile"]
    token_mount = next(m for m in container["volumeMounts"] if token_file.startswith(m["mountPath"] + "/"))
    token_volume = next(v for v in worker["spec"]["template"]["spec"]["volumes"] if v["name"] == token_mount["name"])
    token = next(d for d in rehearsal.extra_objects() if d["kind"] == "Secret"
                 and d["metadata"]["name"] == token_volume["secret"]["secretName"])
    assert token["type"] == "kubernetes.io/service-account-token"
    account = token["metadata"]["annotations"]["kubernetes.io/service-account.name"]
    bindings = [d for d in rehearsal.extra_objects() if d["kind"] == "RoleBinding"]
    assert [(b["metadata"]["namespace"], b["subjects"][0]["name"]) for b in bindings] == [(COMPOSER_NAMESPACE,
                                                                                           account)]
    role = next(d for d in rehearsal.extra_objects() if d["kind"] == "Role")
    assert {"create", "delete", "watch"} <= set(jmespath.search("rules[?resources[0]=='pods'] | [0].verbs", role))


def test_composers_executor_celery_with_the_redis_built_here(rehearsal: ComposerRehearsalProvider) -> None:
    rehearsal.tool_tags_file().parent.mkdir(parents=True, exist_ok=True)
    rehearsal.tool_tags_file().write_text('{"gcs-emulator": "0123456789abcdef", "redis": "fedcba9876543210"}')
    docs = render_chart(rehearsal.merged_values(UpOptions()))
    config = jmespath.search("[?kind=='ConfigMap' && ends_with(metadata.name, '-config')] | [0].data", docs)
    assert "executor = CeleryExecutor" in config["airflow.cfg"]
    redis = jmespath.search("[?kind=='StatefulSet' && metadata.labels.component=='redis'] | [0]", docs)
    assert jmespath.search("spec.template.spec.containers[0].image", redis) == "redis:fedcba9876543210"
    # The broker Secret `up` makes once is the one both Redis and Airflow read: the chart makes none of its own.
    broker = "airflow-celery-broker"
    assert jmespath.search("spec.template.spec.containers[0].env[?name=='REDIS_PASSWORD'] | [0]"
                           ".valueFrom.secretKeyRef", redis) == {"name": broker, "key": "password"}
    scheduler = jmespath.search("[?kind=='Deployment' && metadata.labels.component=='scheduler'] | [0]", docs)
    assert jmespath.search("spec.template.spec.containers[0].env[?name=='AIRFLOW__CELERY__BROKER_URL'] | [0]"
                           ".valueFrom.secretKeyRef", scheduler) == {"name": broker, "key": "connection"}
    assert not jmespath.search("[?kind=='Secret' && contains(metadata.name, 'redis')]", docs)


def test_emulator_image_is_the_one_up_built(rehearsal: ComposerRehearsalProvider) -> None:
    assert rehearsal.tool_images == ("gcs-emulator", "redis")
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


def test_composers_sign_in_is_mounted_into_every_airflow_component(rehearsal: ComposerRehearsalProvider) -> None:
    """Two sides of one module: the auth manager Airflow is told to load, and the file every component (and the
    user job, which loads it too) finds on Airflow's sys.path ($AIRFLOW_HOME/config)."""
    docs = render_chart(rehearsal.merged_values(UpOptions()))
    config = jmespath.search("[?kind=='ConfigMap' && ends_with(metadata.name, '-config')] | [0].data", docs)
    assert "auth_manager = composer_auth.GoogleTokenAuthManager" in config["airflow.cfg"]
    auth = next(d for d in rehearsal.extra_objects() if d["kind"] == "ConfigMap" and d["metadata"]["name"] ==
                "composer-auth")
    assert auth["data"]["composer_auth.py"] == (REPO / "helm/composer-rehearsal/composer_auth.py").read_text()
    for component in ("api-server", "scheduler", "worker", "dag-processor", "triggerer", "create-user-job"):
        pod = jmespath.search(f"[?spec.template && metadata.labels.component=='{component}'] | [0]"
                              ".spec.template.spec", docs)
        mounts = {m["mountPath"]: m for c in pod["containers"] for m in c.get("volumeMounts") or []}
        assert mounts["/opt/airflow/dags"]["readOnly"], component  # the DAGs claim stays mounted beside it
        mount = mounts["/opt/airflow/config/composer_auth.py"]
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert (volume["configMap"]["name"], mount["subPath"]) == ("composer-auth", "composer_auth.py"), component


def test_the_api_is_signed_in_to_with_a_google_token(rehearsal: ComposerRehearsalProvider, gcloud: Gcloud,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """e2e, logs and the connections step sign in to the rehearsal's API as to Composer's: gcloud's access token."""
    for name, value in gcloud.env.items():
        if name.startswith("CLOUDSDK_"):
            monkeypatch.setenv(name, value)
    login = credentials(rehearsal)
    assert login == BearerToken("google-double-token", GOOGLE_SIGN_IN)
