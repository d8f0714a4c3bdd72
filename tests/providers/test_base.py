"""`providers.base`: the defaults every provider starts from (chart values from the settings, the task-pod
facts, Airflow's secrets planned once, merged values written privately)."""

from __future__ import annotations

import stat
from collections.abc import Callable
from dataclasses import replace

import yaml

from automation.core.runner import Runner
from automation.core.versions import VERSIONS
from automation.k8s.cluster import Unreachable
from automation.providers import Provider
from automation.providers.base import UpOptions, read_only_dags_values
from automation.settings.contract import TaskPodFacts
from automation.settings.model import Login


def base(build: Callable[..., Provider], name: str = "existing", **changes: object) -> Provider:
    """The base class itself on a target: only the defaults, no provider's overrides."""
    target = replace(build(name).target, **changes)
    return Provider(Runner(dry_run=True), target)


def test_defaults_need_nothing(build: Callable[..., Provider]) -> None:
    provider = base(build)
    assert provider.volumes() == [] and provider.node_folders() == [] and provider.extra_objects() == []
    assert provider.pod_rules() == []
    assert provider.airflow_image() == f"apache/airflow:{VERSIONS.airflow}"
    assert base(build, airflow_version="3.1.7").airflow_image() == "apache/airflow:3.1.7"


def test_task_env_is_the_contract_of_the_target(build: Callable[..., Provider]) -> None:
    provider = base(build, data_root="/srv/data", namespace="team-a")
    facts = TaskPodFacts(target="existing", namespace="team-a", data_root="/srv/data")
    assert provider.task_env() == facts.to_env()


def test_chart_values_from_the_settings(build: Callable[..., Provider]) -> None:
    values = base(build).chart_values()
    assert values["executor"] == "KubernetesExecutor"
    assert values["airflowVersion"] == values["defaultAirflowTag"] == VERSIONS.airflow
    for key in ("fernetKeySecretName", "apiSecretKeySecretName", "jwtSecretName", "webserverSecretKeySecretName"):
        assert values[key] == "airflow-core-secrets"
    assert values["env"] == [{"name": k, "value": v} for k, v in base(build).task_env().items()]
    assert values["createUserJob"] == {"defaultUser": {"username": "admin", "password": "admin"}}
    assert "postgresql" not in values and "data" not in values


def test_no_password_no_user_job_and_disabled_components(build: Callable[..., Provider]) -> None:
    values = base(build, login=Login(username="ops"), disable=["statsd", "pgbouncer"]).chart_values()
    assert "createUserJob" not in values
    assert values["statsd"] == {"enabled": False} and values["pgbouncer"] == {"enabled": False}


def test_output_location_is_under_data_root(build: Callable[..., Provider]) -> None:
    assert base(build, data_root="/data/").output_location("p", "out/x.csv") == "/data/p/out/x.csv"
    assert base(build, data_root="gs://b").output_location("p", "o") == "gs://b/p/o"


def test_read_only_dags_values_mount_the_claim_read_only() -> None:
    values = read_only_dags_values()
    assert values["volumes"] == [{"name": "dags-ro", "persistentVolumeClaim": {"claimName": "airflow-dags",
                                                                              "readOnly": True}}]
    assert values["volumeMounts"] == [{"name": "dags-ro", "mountPath": "/opt/airflow/dags", "readOnly": True}]


def test_airflow_secrets_are_planned_on_an_empty_cluster(build: Callable[..., Provider]) -> None:
    provider = base(build)
    assert provider.ensure_airflow_secrets(Unreachable()) == {"core-secret": "created"}
    assert provider.runner.commands() == ["apply Secret/airflow-core-secrets -n airflow (create, server-side)"]


class _Held:
    """A cluster holding one object (the core Secret), for ensure_airflow_secrets' decisions."""

    reachable = False  # nothing is applied: the decision shows in the plan

    def __init__(self, secret: dict):
        self.secret = secret

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict | None:
        return self.secret if kind == "Secret" else None

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> list:
        return []


def test_a_core_secret_without_its_fingerprint_gets_one_and_keeps_its_values(
        build: Callable[..., Provider]) -> None:
    from automation.k8s import airflow_secrets
    from automation.k8s.objects import Secret

    provider = base(build)
    values = {k: f"value-of-{k}-0123456789" for k in airflow_secrets.CORE_KEYS}
    unrecorded = Secret("airflow-core-secrets", "airflow", values).render()
    assert provider.ensure_airflow_secrets(_Held(unrecorded)) == {"core-secret": "updated"}  # type: ignore[arg-type]
    assert provider.runner.commands() == ["apply Secret/airflow-core-secrets -n airflow (update, server-side)"]
    recorded = airflow_secrets.core_secret_of(provider.target, values).render()
    again = base(build)
    assert again.ensure_airflow_secrets(_Held(recorded)) == {"core-secret": "unchanged"}  # type: ignore[arg-type]
    assert again.runner.commands() == []


def test_merged_values_layer_the_repository_files(build: Callable[..., Provider]) -> None:
    values = base(build).merged_values(UpOptions())
    assert values["redis"] == {"enabled": False}  # helm/values.yaml
    assert values["scheduler"]["resources"]["requests"]["cpu"] == "100m"  # helm/values-local.yaml
    assert values["fernetKeySecretName"] == "airflow-core-secrets"  # generated


def test_written_values_are_private(build: Callable[..., Provider]) -> None:
    provider = base(build)
    path = provider.write_values({"createUserJob": {"defaultUser": {"password": "p"}}, "b": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text()) == {"b": 1, "createUserJob": {"defaultUser": {"password": "p"}}}
    assert path.parent == provider.state_dir()
