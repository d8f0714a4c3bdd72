"""Airflow's own secrets: present keys are never regenerated, generated keys work, the Fernet rotation is
Airflow's NEW,OLD, and the external database's password is masked."""

from __future__ import annotations

import base64
import secrets
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, MultiFernet

from automation.core.errors import UserError
from automation.core.runner import mask
from automation.k8s import airflow_secrets
from automation.k8s.objects import Secret
from automation.settings import load_target
from automation.settings.model import Database, Login


def held(data: dict[str, str]) -> dict:
    """The core Secret as the cluster returns it."""
    return Secret("airflow-core-secrets", "airflow", data).render()


def test_names_follow_the_release() -> None:
    target = replace(load_target("local"), release="dev")
    assert airflow_secrets.core_secret_name(target) == "dev-core-secrets"
    assert airflow_secrets.metadata_secret_name(target) == "dev-metadata-db"
    assert airflow_secrets.login_secret_name(target) == "dev-ui-login"
    assert airflow_secrets.login_secret_name(replace(target, login=Login(password_secret="mine"))) == "mine"


def test_a_new_core_secret_has_every_key_and_a_working_fernet_key() -> None:
    target = load_target("local")
    secret, missing = airflow_secrets.core_secret(target, None)
    assert missing == list(airflow_secrets.CORE_KEYS)
    assert set(secret.data) == set(airflow_secrets.CORE_KEYS) and all(secret.data.values())
    assert len(set(secret.data.values())) == len(airflow_secrets.CORE_KEYS)
    fernet = Fernet(secret.data["fernet-key"].encode())
    assert fernet.decrypt(fernet.encrypt(b"conn")) == b"conn"
    assert (secret.name, secret.namespace) == ("airflow-core-secrets", "airflow")
    assert mask(secret.data["api-secret-key"]) == "******"  # generated values are never printed


def test_present_keys_are_kept_and_only_missing_ones_generated() -> None:
    kept = {"fernet-key": Fernet.generate_key().decode(), "jwt-secret": "kept-jwt-secret", "api-secret-key": ""}
    secret, missing = airflow_secrets.core_secret(load_target("local"), held(kept))
    assert missing == ["api-secret-key", "webserver-secret-key"]  # an empty value counts as missing
    assert secret.data["fernet-key"] == kept["fernet-key"] and secret.data["jwt-secret"] == "kept-jwt-secret"
    assert secret.data["api-secret-key"] and secret.data["webserver-secret-key"]
    again, none_missing = airflow_secrets.core_secret(load_target("local"), secret.render())
    assert none_missing == [] and again.data == secret.data


def test_decode_reads_base64_and_masks() -> None:
    value = secrets.token_hex(8)
    assert airflow_secrets.decode({"data": {"k": base64.b64encode(value.encode()).decode()}}) == {"k": value}
    assert mask(value) == "******"
    assert airflow_secrets.decode(None) == {} and airflow_secrets.decode({"data": None}) == {}


def test_rotate_fernet_gives_new_then_old() -> None:
    old = Fernet.generate_key().decode()
    token = Fernet(old.encode()).encrypt(b"x")
    rotated = airflow_secrets.rotate_fernet({"fernet-key": old, "jwt-secret": "j"})
    new, previous = rotated["fernet-key"].split(",")
    assert previous == old and new != old and rotated["jwt-secret"] == "j"
    both = MultiFernet([Fernet(k.encode()) for k in (new, previous)])
    assert both.decrypt(token) == b"x"
    # A second rotation before `finish` keeps only the key in use first, not a growing list.
    assert airflow_secrets.rotate_fernet(rotated)["fernet-key"].split(",")[1] == new


def external(tmp_path: Path, url: str):
    path = tmp_path / "db.url"
    path.write_text(url + "\n")
    return replace(load_target("existing"), database=Database(mode="external", url_file=str(path)))


def test_external_db_url_is_read_and_its_password_masked(tmp_path: Path) -> None:
    password = secrets.token_hex(8)
    url = f"postgresql://airflow:{password}@db.example:5432/airflow"
    assert airflow_secrets.external_db_url(external(tmp_path, url)) == url
    assert mask(f"connecting with {password}") == "connecting with ******"


def test_external_db_url_errors(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="expected a SQLAlchemy URL"):
        airflow_secrets.external_db_url(external(tmp_path, "just-a-host:5432"))
    target = replace(load_target("existing"), database=Database(mode="external", url_file=str(tmp_path / "no")))
    with pytest.raises(UserError, match="does not exist"):
        airflow_secrets.external_db_url(target)


def test_the_core_secret_records_a_sha256_per_key_and_never_a_value() -> None:
    target = load_target("local")
    secret, _ = airflow_secrets.core_secret(target, None)
    rendered = secret.render()
    recorded = rendered["metadata"]["annotations"][airflow_secrets.FINGERPRINT_ANNOTATION]
    assert recorded == airflow_secrets.fingerprint(secret.data)
    assert not any(value in recorded for value in secret.data.values())
    assert airflow_secrets.changed_keys(rendered) == []
    changed = {**rendered, "data": {**rendered["data"], "jwt-secret": base64.b64encode(b"other-value").decode()}}
    assert airflow_secrets.changed_keys(changed) == ["jwt-secret"]
    assert airflow_secrets.changed_keys(held(secret.data)) is None  # written before the record existed


def test_rotation_keeps_the_record_true() -> None:
    target = load_target("local")
    secret, _ = airflow_secrets.core_secret(target, None)
    rotated = airflow_secrets.core_secret_of(target, airflow_secrets.rotate_fernet(dict(secret.data))).render()
    assert airflow_secrets.changed_keys(rotated) == []
