"""Converging connections, variables and pools: only what differs is written, a value Airflow hides ('***') is
compared through the ledger, objects this tool did not make are never touched, and only marked objects that
no project declares are pruned."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from automation.core.runner import Runner
from automation.providers.airflow_converge import REDACTED, Change, Ledger, converge, differences
from automation.settings.airflow_yaml import AirflowObject, AirflowObjects, description


class FakeAirflow:
    """A Store over dicts, hiding passwords the way Airflow's REST API does."""

    where = "fake"

    def __init__(self) -> None:
        self.data: dict[str, dict[str, dict[str, Any]]] = {"connections": {}, "variables": {}, "pools": {}}
        self.applied: list[tuple[str, str, str]] = []
        self.readable = True

    def current(self, kind: str) -> dict[str, dict[str, Any]] | None:
        if not self.readable:
            return None
        shown = {}
        for ident, body in self.data[kind].items():
            shown[ident] = {**body, **({"password": REDACTED} if body.get("password") else {})}
        return shown

    def apply(self, kind: str, changes: list[Change]) -> None:
        for change in changes:
            self.applied.append((change.action, kind, change.ident))
            if change.obj is None:
                del self.data[kind][change.ident]
            else:
                self.data[kind][change.ident] = dict(change.obj.body)


def connection(ident: str, password: str | None = "pw-1", host: str = "db.example",
               project: str = "proj") -> AirflowObject:
    body = {"connection_id": ident, "conn_type": "postgres", "host": host, "login": "u", "schema": None,
            "port": 5432, "password": password, "extra": None, "description": description(None, project)}
    return AirflowObject("connections", ident, body, project, Path("k8s") / project / "airflow.yaml")


def pool(name: str, slots: int = 1) -> AirflowObject:
    body = {"name": name, "slots": slots, "description": description(None, "proj"), "include_deferred": False}
    return AirflowObject("pools", name, body, "proj", Path("k8s/proj/airflow.yaml"))


def run(store: FakeAirflow, ledger: Ledger, *items: AirflowObject, dry_run: bool = False) -> tuple[dict[str, str], str]:
    runner = Runner(dry_run=dry_run, out=io.StringIO())
    outcome = converge(runner, store, AirflowObjects(items), ledger)
    out = runner.out.getvalue()  # type: ignore[attr-defined]
    return outcome, out


def test_applied_twice_the_second_time_changes_nothing(tmp_path: Path) -> None:
    store, ledger = FakeAirflow(), Ledger(tmp_path / "ledger.json")
    first, _ = run(store, ledger, connection("db"), pool("p"))
    assert first == {"connections/db": "created", "pools/p": "created"}
    store.applied.clear()
    second, out = run(store, Ledger.load(tmp_path / "ledger.json"), connection("db"), pool("p"))
    assert second == {"connections/db": "unchanged", "pools/p": "unchanged"}
    assert store.applied == []
    assert "connections: unchanged (1)" in out and "pools: unchanged (1)" in out
    assert "variables: none declared" in out


def test_a_hidden_value_is_rewritten_when_the_declared_one_changed(tmp_path: Path) -> None:
    store, ledger = FakeAirflow(), Ledger(tmp_path / "ledger.json")
    run(store, ledger, connection("db", password="pw-1"))
    outcome, _ = run(store, ledger, connection("db", password="pw-2"))
    assert outcome == {"connections/db": "updated"}
    assert store.data["connections"]["db"]["password"] == "pw-2"


def test_without_a_record_a_hidden_value_is_written_once(tmp_path: Path) -> None:
    store = FakeAirflow()
    run(store, Ledger(tmp_path / "a.json"), connection("db"))
    # Another machine (no ledger): it cannot know the password is the same, so it writes it, then knows.
    other = Ledger(tmp_path / "b.json")
    assert run(store, other, connection("db"))[0] == {"connections/db": "updated"}
    assert run(store, other, connection("db"))[0] == {"connections/db": "unchanged"}


def test_a_visible_field_is_compared_without_the_ledger(tmp_path: Path) -> None:
    store, ledger = FakeAirflow(), Ledger(tmp_path / "ledger.json")
    run(store, ledger, connection("db", password=None))
    store.data["connections"]["db"]["host"] = "edited.by.hand"
    assert run(store, Ledger(tmp_path / "none.json"), connection("db", password=None))[0] == {
        "connections/db": "updated"}
    assert store.data["connections"]["db"]["host"] == "db.example"


def test_objects_not_made_here_are_never_changed_nor_pruned(tmp_path: Path) -> None:
    store = FakeAirflow()
    store.data["connections"]["db"] = {"connection_id": "db", "conn_type": "http", "description": "by hand"}
    store.data["pools"]["default_pool"] = {"name": "default_pool", "slots": 128, "description": "Default pool"}
    outcome, out = run(store, Ledger(tmp_path / "l.json"), connection("db"))
    assert outcome == {"connections/db": "foreign"}
    assert store.applied == []
    assert "connection db exists but was not made by this tool: left as it is" in out
    assert store.data["connections"]["db"]["conn_type"] == "http"
    assert "default_pool" in store.data["pools"]


def test_marked_objects_no_project_declares_are_pruned(tmp_path: Path) -> None:
    store, ledger = FakeAirflow(), Ledger(tmp_path / "ledger.json")
    run(store, ledger, connection("db"), connection("old", project="dropped"), pool("p"))
    outcome, out = run(store, ledger, connection("db"))
    assert outcome == {"connections/db": "unchanged", "connections/old": "deleted", "pools/p": "deleted"}
    assert set(store.data["connections"]) == {"db"} and store.data["pools"] == {}
    assert "connections: 1 deleted, 1 unchanged" in out
    assert "old" not in json.loads((tmp_path / "ledger.json").read_text())["connections"]


def test_a_dry_run_plans_and_records_nothing(tmp_path: Path) -> None:
    store = FakeAirflow()
    store.readable = False
    outcome, out = run(store, Ledger(tmp_path / "ledger.json"), connection("db"), dry_run=True)
    assert outcome == {"connections/db": "created"}
    assert "planned as if Airflow had none" in out
    assert not (tmp_path / "ledger.json").exists()


def test_the_ledger_holds_fingerprints_never_values(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.json")
    run(FakeAirflow(), ledger, connection("db", password="very-secret-pw"))
    text = (tmp_path / "ledger.json").read_text()
    assert "very-secret-pw" not in text
    assert (tmp_path / "ledger.json").stat().st_mode & 0o077 == 0


def test_differences_of_extra_skip_hidden_keys() -> None:
    body = {"extra": json.dumps({"token": "t", "verify": True})}
    assert differences({"extra": json.dumps({"token": REDACTED, "verify": True})}, body) == ([], True)
    assert differences({"extra": json.dumps({"token": REDACTED, "verify": False})}, body)[0] == ["extra"]
    assert differences({"extra": None}, {"extra": None}) == ([], False)
    # A password Airflow holds but the file no longer declares is a difference, not a hidden value.
    assert differences({"password": REDACTED}, {"password": None}) == (["password"], False)
