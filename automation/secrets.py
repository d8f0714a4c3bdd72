"""Airflow's own secrets (made once, never regenerated) and each project's ConfigMap and Secret files."""

from __future__ import annotations

import base64
import re
import secrets as pysecrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from automation.errors import UserError
from automation.manifests import ConfigMap, Secret
from automation.runner import register_secret
from automation.settings import REPO_ROOT, Target

PROJECTS_DIR = REPO_ROOT / "k8s"
# One Secret holds every key the chart reads by name (fernetKeySecretName, apiSecretKeySecretName, ...).
CORE_KEYS = ("fernet-key", "api-secret-key", "jwt-secret", "webserver-secret-key")


def core_secret_name(target: Target) -> str:
    return f"{target.release}-core-secrets"


def metadata_secret_name(target: Target) -> str:
    return f"{target.release}-metadata-db"


def login_secret_name(target: Target) -> str:
    return target.login.password_secret or f"{target.release}-ui-login"


def generate(key: str) -> str:
    value = Fernet.generate_key().decode() if key == "fernet-key" else pysecrets.token_urlsafe(32)
    register_secret(value)
    return value


def decode(secret: dict[str, Any] | None) -> dict[str, str]:
    """The values of a Secret read from the cluster (registered as secrets: they are never printed)."""
    values = {k: base64.b64decode(v).decode() for k, v in ((secret or {}).get("data") or {}).items()}
    for value in values.values():
        register_secret(value)
    return values


def core_secret(target: Target, existing: dict[str, Any] | None) -> tuple[Secret, list[str]]:
    """The core Secret with every present key kept as is, and the names of the keys that were missing."""
    current = decode(existing)
    missing = [k for k in CORE_KEYS if not current.get(k)]
    data = {k: current.get(k) or generate(k) for k in CORE_KEYS}
    return Secret(core_secret_name(target), target.namespace, data), missing


def rotate_fernet(current: dict[str, str]) -> dict[str, str]:
    """Airflow's documented rotation, first half: NEW,OLD so both decrypt; `airflow rotate-fernet-key`
    re-encrypts, then `finish` keeps NEW alone."""
    old = current["fernet-key"].split(",")[0]
    return {**current, "fernet-key": f"{generate('fernet-key')},{old}"}


_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")


def read_env_file(path: Path, *, template: Path | None = None) -> dict[str, str]:
    """KEY=VALUE lines, '#' comments, optional matching quotes. Any other line is an error naming it."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            hint = f"copy the layout of {_rel(template)}" if template else "use KEY=VALUE lines"
            raise UserError(f"{_rel(path)}:{number}: expected KEY=VALUE, got {line.split('=')[0][:30]!r}", hint)
        key, value = match.groups()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def _rel(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class ProjectFiles:
    name: str
    folder: Path

    @property
    def config(self) -> Path:
        return self.folder / "config.env"

    @property
    def secret(self) -> Path:
        return self.folder / "secret.env"

    @property
    def template(self) -> Path:
        return self.folder / "secret.env.example"

    def overlay(self, base: Path, target: str) -> Path:
        return base.with_name(f"{base.stem}.{target}{base.suffix}")

    def config_values(self, target: str) -> dict[str, str] | None:
        values: dict[str, str] | None = None
        for path in (self.config, self.overlay(self.config, target)):
            if path.is_file():
                values = {**(values or {}), **read_env_file(path)}
        return values

    def secret_values(self, target: str) -> dict[str, str] | None:
        if not self.secret.is_file():
            if self.template.is_file():
                raise UserError(
                    f"project {self.name!r} has no secret file {_rel(self.secret)}",
                    f"copy the template: cp {_rel(self.template)} {_rel(self.secret)} and fill in its values",
                )
            return None  # a project without a Secret still works
        values = read_env_file(self.secret, template=self.template)
        target_file = self.overlay(self.secret, target)
        if target_file.is_file():
            values.update(read_env_file(target_file, template=self.template))
        if self.template.is_file():
            missing = sorted(set(read_env_file(self.template)) - set(values))
            if missing:
                raise UserError(f"{_rel(self.secret)}: missing key {missing[0]}",
                                f"add it as in {_rel(self.template)}")
        for value in values.values():
            register_secret(value)
        return values


def project_files(name: str, target: Target | None = None) -> ProjectFiles:
    root = target.path(target.projects_dir) if target else PROJECTS_DIR
    return ProjectFiles(name, root / name)


def project_objects(target: Target) -> list[ConfigMap | Secret]:
    """Each project's ConfigMap and Secret, named after the project."""
    objects: list[ConfigMap | Secret] = []
    labels = {"airflow-automation/project": ""}
    for name in target.projects:
        files = project_files(name, target)
        if not files.folder.is_dir():
            raise UserError(f"project {name!r} has no folder {_rel(files.folder)}",
                            f"create it with a config.env, or remove {name!r} from the target's projects")
        project_labels = {k: name for k in labels}
        config = files.config_values(target.name)
        if config is not None:
            objects.append(ConfigMap(name, target.namespace, config, project_labels))
        secret = files.secret_values(target.name)
        if secret is not None:
            objects.append(Secret(name, target.namespace, secret, project_labels))
    return objects


def external_db_url(target: Target) -> str:
    path = target.path(target.database.url_file or "")
    if not path.is_file():
        raise UserError(f"database URL file {path} does not exist",
                        "write the SQLAlchemy URL (postgresql://USER:PASS@HOST:5432/DB) into it")
    url = path.read_text().strip()
    if "://" not in url:
        raise UserError(f"{path}: expected a SQLAlchemy URL such as postgresql://USER:PASS@HOST:5432/DB")
    register_secret(url)
    password = re.match(r"^[^:]+://[^:/@]+:([^@]+)@", url)
    if password:
        register_secret(password.group(1))
    return url
