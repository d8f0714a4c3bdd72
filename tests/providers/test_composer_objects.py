"""Composer's connections, variables and pools: the Airflow CLI calls through `gcloud composer environments run`,
and its `list -o json` read back in the REST API's shape."""

from __future__ import annotations

import io
import json
from pathlib import Path

from automation.core.runner import Result, Runner
from automation.providers.airflow_objects import REDACTED, Change, Ledger
from automation.providers.composer_objects import ComposerCliStore
from automation.settings.airflow_objects import AirflowObject, description, owner

RUN = ["gcloud", "composer", "environments", "run", "env", "--location", "r", "--project", "p"]


def obj(kind: str, ident: str, body: dict[str, object]) -> AirflowObject:
    return AirflowObject(kind, ident, body, "proj", Path("k8s/proj/airflow.yaml"))  # type: ignore[arg-type]


def test_each_change_is_the_airflow_cli_call() -> None:
    conn = obj("connections", "db", {"connection_id": "db", "conn_type": "postgres", "host": "h", "login": None,
                                     "password": "pw", "port": 5432, "schema": None, "extra": None,
                                     "description": "d"})
    conn_json = json.dumps({"conn_type": "postgres", "description": "d", "host": "h", "password": "pw",
                            "port": 5432}, sort_keys=True)
    assert ComposerCliStore.commands("connections", Change("create", "connections", "db", conn)) == [
        ["connections", "add", "--", "db", "--conn-json", conn_json]]
    assert ComposerCliStore.commands("connections", Change("update", "connections", "db", conn)) == [
        ["connections", "delete", "--", "db"], ["connections", "add", "--", "db", "--conn-json", conn_json]]
    var = obj("variables", "v", {"key": "v", "value": "x", "description": "d"})
    assert ComposerCliStore.commands("variables", Change("create", "variables", "v", var)) == [
        ["variables", "set", "--", "v", "x", "--description", "d"]]
    pool = obj("pools", "p", {"name": "p", "slots": 3, "description": "d", "include_deferred": True})
    assert ComposerCliStore.commands("pools", Change("update", "pools", "p", pool)) == [
        ["pools", "set", "--", "p", "3", "d", "--include-deferred"]]
    assert ComposerCliStore.commands("pools", Change("delete", "pools", "p")) == [["pools", "delete", "--", "p"]]


class ListingRunner(Runner):
    def __init__(self, listings: dict[str, str]):
        super().__init__(out=io.StringIO())
        self.listings = listings

    def try_read(self, cmd, **kwargs):  # type: ignore[no-untyped-def, override]
        kind = cmd[len(RUN)]
        text = self.listings.get(kind)
        return None if text is None else Result(list(cmd), 0, text, "", 0.0)


def test_listings_are_read_in_the_rest_shape(tmp_path: Path) -> None:
    conns = [{"conn_id": "db", "conn_type": "postgres", "description": description(None, "proj"), "host": "h",
              "login": "u", "schema": "s", "port": 5432, "password": "clear-text", "extra_dejson": {"a": 1}}]
    ledger = Ledger(tmp_path / "l.json")
    ledger.record(obj("variables", "mine", {"key": "mine", "value": "x", "description": "d"}))
    noise = "[info     ] setup plugin alembic [alembic.runtime.plugins]\n"  # Airflow's own log lines first
    runner = ListingRunner({"connections": noise + json.dumps(conns),
                            "pools": json.dumps([{"pool": "p", "slots": 2, "description": "Default"}]),
                            "variables": json.dumps([{"key": "mine"}, {"key": "theirs"}])})
    store = ComposerCliStore(runner, RUN, ledger)
    db = (store.current("connections") or {})["db"]
    assert db["password"] == REDACTED and json.loads(db["extra"]) == {"a": 1} and owner(db["description"]) == "proj"
    assert (store.current("pools") or {})["p"]["slots"] == 2
    variables = store.current("variables") or {}
    assert owner(variables["mine"]["description"]) == "proj" and owner(variables["theirs"]["description"]) is None


def test_an_unreadable_environment_is_planned_as_empty(tmp_path: Path) -> None:
    assert ComposerCliStore(ListingRunner({}), RUN, Ledger(tmp_path / "l.json")).current("pools") is None
