"""Airflow connections, variables and pools as code: each project's committed `k8s/PROJECT/airflow.yaml`.

Secret parts are never in that file: `{secret: KEY}` stands for KEY of the project's git-ignored `secret.env`
(and its per-target overlay). The file is validated as a whole; the first problem is one line naming the file,
the entry and the key (`k8s/example-db/airflow.yaml: connections.example_db.port: ...`). What comes out is plain
data in the shape Airflow's REST API takes, so every target applies the same thing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from automation.core.errors import UserError
from automation.core.paths import rel
from automation.core.runner import register_secret
from automation.settings.model import Target
from automation.settings.projects import ProjectFiles, project_files

FILE_NAME = "airflow.yaml"
KINDS = ("connections", "variables", "pools")
# Every object `up` makes carries this in its description: the mark of ownership (only marked objects are ever
# updated or pruned) and the project that declared it (a project dropped from the settings loses its objects).
MARK = "managed by airflow-automation"
OWNER = re.compile(re.escape(MARK) + r", project ([a-z0-9]([-a-z0-9]*[a-z0-9])?)")
# Airflow's own limits (its REST API refuses longer or other ids).
CONNECTION_ID = r"^[\w.-]{1,200}$"
# URI schemes whose Airflow connection type has another name (Airflow's own Connection(uri=...) does the same).
_SCHEME_TYPES = {"postgresql": "postgres"}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SecretRef(_Strict):
    """`{secret: KEY}`: the value of KEY in the project's secret.env."""

    secret: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


Text = str | SecretRef
Scalar = str | int | float | bool | None


class ConnectionEntry(_Strict):
    type: str | None = None
    # A whole connection from one URL (typically a secret: `uri: {secret: DATABASE_URL}`), scheme = type.
    uri: Text | None = None
    host: Text | None = None
    login: Text | None = None
    password: Text | None = None
    schema_: Annotated[Text | None, Field(alias="schema")] = None
    port: Annotated[int, Field(ge=1, le=65535)] | None = None
    extra: dict[str, Scalar | SecretRef | list[Any] | dict[str, Any]] = Field(default_factory=dict)
    description: str | None = None

    @model_validator(mode="after")
    def _type_or_uri(self) -> ConnectionEntry:
        if self.uri is None and not self.type:
            raise ValueError("needs a type (such as postgres, http) or a uri")
        if self.uri is not None and any(v is not None for v in (self.host, self.login, self.password,
                                                                 self.schema_, self.port)):
            raise ValueError("uri holds host, login, password, schema and port: give either uri or those")
        return self


class VariableEntry(_Strict):
    # A string is stored as is; anything else as JSON (read it with Variable.get(key, deserialize_json=True)).
    value: Scalar | SecretRef | list[Any] | dict[str, Any]
    description: str | None = None


class PoolEntry(_Strict):
    slots: Annotated[int, Field(ge=-1)]
    description: str | None = None
    include_deferred: bool = False


class AirflowFile(_Strict):
    connections: dict[Annotated[str, Field(pattern=CONNECTION_ID)], ConnectionEntry] = Field(default_factory=dict)
    variables: dict[Annotated[str, Field(min_length=1, max_length=250)], VariableEntry] = Field(default_factory=dict)
    pools: dict[Annotated[str, Field(min_length=1, max_length=256)], PoolEntry] = Field(default_factory=dict)


@dataclass(frozen=True)
class AirflowObject:
    """One connection, variable or pool as Airflow's REST API takes it (`body`), and where it was declared."""

    kind: Literal["connections", "variables", "pools"]
    ident: str
    body: dict[str, Any]
    project: str
    source: Path


@dataclass(frozen=True)
class AirflowObjects:
    items: tuple[AirflowObject, ...] = field(default_factory=tuple)

    def of(self, kind: str) -> list[AirflowObject]:
        return [item for item in self.items if item.kind == kind]


def description(text: str | None, project: str) -> str:
    """The user's description followed by the mark of ownership."""
    mark = f"{MARK}, project {project}"
    return f"{text} ({mark})" if text else mark


def owner(described: str | None) -> str | None:
    """The project that made an object, from its description; None for an object this tool did not make."""
    match = OWNER.search(described or "")
    return match.group(1) if match else None


def declared_objects(target: Target) -> AirflowObjects:
    """Every project's connections, variables and pools. An id declared by two projects is an error."""
    items: list[AirflowObject] = []
    seen: dict[tuple[str, str], Path] = {}
    for name in target.projects:
        files = project_files(name, target)
        for item in read_project(files, target.name):
            first = seen.setdefault((item.kind, item.ident), item.source)
            if first != item.source:
                raise UserError(f"{rel(item.source)}: {item.kind}.{item.ident}: also declared in {rel(first)}",
                                "declare each id in one project only")
            items.append(item)
    return AirflowObjects(tuple(items))


def read_project(files: ProjectFiles, target_name: str) -> list[AirflowObject]:
    path = files.folder / FILE_NAME
    if not path.is_file():
        return []
    parsed = _validated(path)
    secrets = _Secrets(files, target_name, path)
    items: list[AirflowObject] = []
    for conn_id, conn in parsed.connections.items():
        items.append(_connection(conn_id, conn, secrets, files.name, path))
    for key, var in parsed.variables.items():
        where = f"variables.{key}.value"
        value = secrets.resolve(var.value, where)
        text = value if isinstance(value, str) else json.dumps(value)
        body: dict[str, Any] = {"key": key, "value": text,
                                "description": description(var.description, files.name)}
        items.append(AirflowObject("variables", key, body, files.name, path))
    for name, pool in parsed.pools.items():
        body = {"name": name, "slots": pool.slots, "description": description(pool.description, files.name),
                "include_deferred": pool.include_deferred}
        items.append(AirflowObject("pools", name, body, files.name, path))
    return items


def _validated(path: Path) -> AirflowFile:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"{rel(path)}: invalid YAML{where}: {getattr(exc, 'problem', None) or 'syntax'}",
                        "fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise UserError(f"{rel(path)}: expected a mapping with {', '.join(KINDS)}, got {type(data).__name__}",
                        "see docs/how-to/connections.md")
    try:
        return AirflowFile.model_validate(data)
    except ValidationError as exc:
        raise UserError(_describe(exc, path), "see docs/how-to/connections.md") from None


def _describe(exc: ValidationError, path: Path) -> str:
    errors = exc.errors()
    # A misspelt key also leaves a required one missing, and a misspelt `{secret: KEY}` fails as a string too:
    # the unknown key is the one to name.
    err = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    parts = []
    for part in err["loc"]:
        text = str(part)
        # pydantic names the member of a union it tried ('str', 'SecretRef', 'function-after[...]'): not a key.
        if text in ("str", "int", "float", "bool", "none", "list[any]", "dict[str,any]", "SecretRef") \
                or text.startswith(("function-", "[key]")) or text.endswith("]"):
            continue
        parts.append("schema" if text == "schema_" else text)
    loc = ".".join(parts)
    kind = err["type"]
    if kind == "extra_forbidden":
        message = "unknown key"
    elif kind == "missing":
        message = "missing required key"
    elif kind == "value_error":
        message = err["msg"].removeprefix("Value error, ")
    elif kind == "string_pattern_mismatch" and "[key]" in [str(p) for p in err["loc"]]:
        message = "not a valid id (letters, digits, _ . - only)"
    else:
        got = err.get("input")
        # Inputs are from the committed file (secrets are references), but keep the line short.
        shown = "" if isinstance(got, dict | list) else f", got {got!r}"[:80]
        message = f"{err['msg']}{shown}"
    return f"{rel(path)}: {loc}: {message}"


class _Secrets:
    """Resolves `{secret: KEY}` references against the project's secret.env, read only when one is used."""

    def __init__(self, files: ProjectFiles, target_name: str, source: Path):
        self.files, self.target_name, self.source = files, target_name, source
        self._values: dict[str, str] | None = None

    def value(self, key: str, where: str) -> str:
        if self._values is None:
            self._values = self.files.secret_values(self.target_name) or {}
        if key not in self._values:
            raise UserError(f"{rel(self.source)}: {where}: secret {key} is not in {rel(self.files.secret)}",
                            f"add {key}=... to {rel(self.files.secret)} (and to {rel(self.files.template)})")
        return self._values[key]

    def resolve(self, value: Any, where: str) -> Any:
        """The value, with a `{secret: KEY}` reference replaced by KEY's value."""
        return self.value(value.secret, where) if isinstance(value, SecretRef) else value


def _connection(conn_id: str, conn: ConnectionEntry, secrets: _Secrets, project: str,
                path: Path) -> AirflowObject:
    where = f"connections.{conn_id}"
    fields: dict[str, Any] = {"conn_type": conn.type, "host": None, "login": None, "schema": None, "port": None,
                              "password": None}
    if conn.uri is not None:
        fields.update(_from_uri(secrets.resolve(conn.uri, f"{where}.uri"), f"{rel(path)}: {where}.uri", conn.type))
        register_secret(fields["password"])  # a secret's whole URL is masked already; its password alone too
    else:
        for name, value in (("host", conn.host), ("login", conn.login), ("password", conn.password),
                            ("schema", conn.schema_)):
            fields[name] = secrets.resolve(value, f"{where}.{name}")
        fields["port"] = conn.port
    extra: dict[str, Any] = {}
    for key, item in conn.extra.items():
        extra[key] = secrets.resolve(item, f"{where}.extra.{key}")
    body = {"connection_id": conn_id, **fields, "extra": json.dumps(extra) if extra else None,
            "description": description(conn.description, project)}
    return AirflowObject("connections", conn_id, body, project, path)


def _from_uri(uri: str, where: str, conn_type: str | None) -> dict[str, Any]:
    """scheme://login:password@host:port/schema, as Airflow reads a connection URI (driver suffix dropped)."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        # The URI may hold a password: say what is wrong, never quote it.
        raise UserError(f"{where}: not a URL such as postgresql://USER:PASSWORD@HOST:5432/DB",
                        "fix the URL (in secret.env when it is a secret)") from None
    scheme = parts.scheme.split("+", 1)[0]
    if not scheme or not parts.hostname:
        raise UserError(f"{where}: not a URL such as postgresql://USER:PASSWORD@HOST:5432/DB (no scheme or host)",
                        "fix the URL (in secret.env when it is a secret)")
    return {"conn_type": conn_type or _SCHEME_TYPES.get(scheme, scheme),
            "host": parts.hostname,
            "login": unquote(parts.username) if parts.username else None,
            "password": unquote(parts.password) if parts.password else None,
            "schema": unquote(parts.path.lstrip("/")) or None,
            "port": port}
