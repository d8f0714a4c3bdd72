"""k8s/PROJECT/airflow.yaml: what it turns into (the REST API's bodies), secrets resolved from secret.env and
masked, the mark of ownership, and one line naming file, entry and key for every invalid entry."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from automation.core.errors import UserError
from automation.core.runner import mask
from automation.settings.airflow_yaml import (
    MARK,
    AirflowObject,
    declared_objects,
    description,
    owner,
    read_project,
)
from automation.settings.model import Target
from automation.settings.projects import ProjectFiles

PASSWORD = secrets.token_hex(8) + "/@"  # characters a URL must escape


def project(tmp_path: Path, text: str, secret: str | None = None, name: str = "proj") -> ProjectFiles:
    folder = tmp_path / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "airflow.yaml").write_text(text)
    if secret is not None:
        (folder / "secret.env").write_text(secret)
    return ProjectFiles(name, folder)


def by_id(items: list[AirflowObject]) -> dict[str, dict[str, object]]:
    return {f"{item.kind}/{item.ident}": item.body for item in items}


def test_entries_become_the_bodies_the_rest_api_takes(tmp_path: Path) -> None:
    escaped = PASSWORD.replace("/", "%2F").replace("@", "%40")
    files = project(tmp_path, """
connections:
  db: {uri: {secret: DB_URL}, description: the database}
  api: {type: http, host: api.example, port: 8443, login: me, password: {secret: TOKEN},
        extra: {verify: true, token: {secret: TOKEN}}}
variables:
  table: {value: readings}
  settings: {value: {rows: 20, names: [a, b]}}
  count: {value: 3}
  token: {value: {secret: TOKEN}}
pools:
  writers: {slots: 2, include_deferred: true}
""", f"DB_URL=postgresql+psycopg://user:{escaped}@db.example:5433/airflow_test\nTOKEN=tok-{PASSWORD}\n")
    bodies = by_id(read_project(files, "ci"))
    assert bodies["connections/db"] == {
        "connection_id": "db", "conn_type": "postgres", "host": "db.example", "login": "user",
        "password": PASSWORD, "schema": "airflow_test", "port": 5433, "extra": None,
        "description": f"the database ({MARK}, project proj)"}
    api = bodies["connections/api"]
    assert (api["conn_type"], api["host"], api["port"], api["login"], api["password"]) == (
        "http", "api.example", 8443, "me", f"tok-{PASSWORD}")
    assert json.loads(str(api["extra"])) == {"verify": True, "token": f"tok-{PASSWORD}"}
    assert bodies["variables/table"]["value"] == "readings"
    assert json.loads(str(bodies["variables/settings"]["value"])) == {"rows": 20, "names": ["a", "b"]}
    assert bodies["variables/count"]["value"] == "3"
    assert bodies["variables/token"]["value"] == f"tok-{PASSWORD}"  # the secret's value, not the reference
    assert bodies["pools/writers"] == {"name": "writers", "slots": 2, "include_deferred": True,
                                       "description": f"{MARK}, project proj"}
    # The password alone, decoded from the URL, is masked too (the whole URL was registered when read).
    assert PASSWORD not in mask(f"password {PASSWORD}")


def test_ownership_is_read_back_from_the_description() -> None:
    assert owner(description("a db", "example-db")) == "example-db"
    assert owner(description(None, "p1")) == "p1"
    assert owner("made by hand") is None and owner(None) is None


def test_a_project_without_the_file_declares_nothing(tmp_path: Path) -> None:
    (tmp_path / "proj").mkdir()
    assert read_project(ProjectFiles("proj", tmp_path / "proj"), "ci") == []


def test_the_secret_file_is_not_needed_without_a_reference(tmp_path: Path) -> None:
    files = project(tmp_path, "pools: {p: {slots: 1}}\n")
    (files.folder / "secret.env.example").write_text("TOKEN=\n")  # its secret.env is missing: not read
    assert [item.ident for item in read_project(files, "ci")] == ["p"]


def test_an_id_declared_by_two_projects_is_refused(tmp_path: Path) -> None:
    project(tmp_path, "pools: {shared: {slots: 1}}\n", name="one")
    project(tmp_path, "pools: {shared: {slots: 2}}\n", name="two")
    target = Target(name="t", provider="existing", projects=["one", "two"], projects_dir=str(tmp_path))
    with pytest.raises(UserError) as info:
        declared_objects(target)
    assert "two/airflow.yaml: pools.shared: also declared in" in info.value.problem
    assert "one/airflow.yaml" in info.value.problem


BAD = {
    "port out of range": ("connections: {db: {type: postgres, port: 70000}}",
                          "connections.db.port: Input should be less than or equal to 65535, got 70000"),
    "no type nor uri": ("connections: {db: {host: h}}",
                        "connections.db: needs a type (such as postgres, http) or a uri"),
    "uri and host": ("connections: {db: {uri: 'http://h', host: h}}",
                     "connections.db: uri holds host, login, password, schema and port: give either uri or those"),
    "bad connection id": ("connections: {'my db': {type: http}}", "connections.my db: not a valid id"),
    "misspelt key": ("connections: {db: {type: http, hots: h}}", "connections.db.hots: unknown key"),
    "misspelt secret reference": ("connections: {db: {type: http, password: {secrt: TOKEN}}}",
                                  "connections.db.password.secrt: unknown key"),
    "unknown secret": ("connections: {db: {type: http, password: {secret: NOPE}}}",
                       "connections.db.password: secret NOPE is not in"),
    "not a url": ("connections: {db: {uri: 'no url here'}}", "connections.db.uri: not a URL such as"),
    "variable without value": ("variables: {v: {description: d}}", "variables.v.value: missing required key"),
    "negative slots": ("pools: {p: {slots: -5}}", "pools.p.slots: Input should be greater than or equal to -1"),
    "slots not a number": ("pools: {p: {slots: many}}", "pools.p.slots: Input should be a valid integer"),
    "unknown kind": ("conections: {}", "conections: unknown key"),
    "not a mapping": ("- a\n- b\n", "expected a mapping with connections, variables, pools, got list"),
    "invalid yaml": ("connections: {db: [\n", "invalid YAML at line"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_invalid_entries_name_file_entry_and_key(tmp_path: Path, case: str) -> None:
    text, expected = BAD[case]
    files = project(tmp_path, text, "TOKEN=s3cret-value-1234\n")
    with pytest.raises(UserError) as info:
        read_project(files, "ci")
    line = info.value.line()
    assert line.startswith(f"error: {files.folder / 'airflow.yaml'}: ")
    assert expected in line
    assert "\n" not in line and "s3cret-value-1234" not in line


def test_a_secret_url_that_does_not_parse_is_not_quoted(tmp_path: Path) -> None:
    files = project(tmp_path, "connections: {db: {uri: {secret: DB_URL}}}\n",
                    f"DB_URL=postgresql://u:{PASSWORD}@host:notaport/db\n")
    with pytest.raises(UserError) as info:
        read_project(files, "ci")
    assert "connections.db.uri: not a URL" in info.value.line()
    assert PASSWORD not in info.value.line()
