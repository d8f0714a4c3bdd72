"""`up`'s step for connections, variables and pools: logged in through the URL `up` opened, applied twice against
a fake Airflow API that hides passwords as the real one does (the second run writes nothing), skipped with
--no-wait, and planned without reads in a dry run with no port-forward."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from automation.airflow import endpoint as airflow_endpoint
from automation.airflow.client import AirflowApi
from automation.core import paths
from automation.core.runner import Runner
from automation.lifecycle import apply_airflow_objects as step
from automation.providers import provider_for
from automation.providers.base import UpOptions
from automation.settings.airflow_yaml import declared_objects
from automation.settings.model import Login, Target

ID = {"connections": "connection_id", "variables": "key", "pools": "name"}


class FakeAirflow:
    def __init__(self) -> None:
        self.data: dict[str, dict[str, dict[str, Any]]] = {kind: {} for kind in ID}
        self.writes = 0
        self.logins: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            self.logins.append(json.loads(request.content))
            return httpx.Response(201, json={"access_token": "fake-token-0123"})
        assert request.headers["Authorization"] == "Bearer fake-token-0123"
        kind = request.url.path.rsplit("/", 1)[-1]
        if request.method == "GET":
            shown = [{**body, **({"password": "***"} if body.get("password") else {})}
                     for body in self.data[kind].values()]
            return httpx.Response(200, json={kind: shown, "total_entries": len(shown)})
        self.writes += 1
        for action in json.loads(request.content)["actions"]:
            for entity in action["entities"]:
                if action["action"] == "delete":
                    self.data[kind].pop(entity, None)
                else:
                    self.data[kind][entity[ID[kind]]] = entity
        return httpx.Response(200, json={})


@pytest.fixture
def target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Target:
    monkeypatch.setattr(paths, "STATE_ROOT", tmp_path / "state")
    folder = tmp_path / "projects" / "proj"
    folder.mkdir(parents=True)
    (folder / "secret.env").write_text("DB_URL=postgresql://u:pw-lifecycle-42@db.example:5432/app\n")
    (folder / "airflow.yaml").write_text("connections: {db: {uri: {secret: DB_URL}}}\n"
                                         "variables: {v: {value: 1}}\npools: {p: {slots: 2}}\n")
    return Target(name="objects-unit", provider="existing", projects=["proj"],
                  projects_dir=str(tmp_path / "projects"), login=Login(username="admin", password="admin"))


def run(target: Target, fake: FakeAirflow | None, monkeypatch: pytest.MonkeyPatch, *, dry_run: bool = False,
        no_wait: bool = False) -> tuple[dict[str, str], str]:
    if fake is not None:
        monkeypatch.setattr(airflow_endpoint, "AirflowApi",
                            lambda url, **kw: AirflowApi(url, transport=httpx.MockTransport(fake), **kw))
    runner = Runner(dry_run=dry_run, out=io.StringIO())
    outcome = step.ensure_airflow_objects(runner, provider_for(runner, target), declared_objects(target),
                                          "http://airflow.test", UpOptions(no_wait=no_wait))
    return outcome, runner.out.getvalue()  # type: ignore[attr-defined]


def test_applied_twice_the_second_run_writes_nothing(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeAirflow()
    first, _ = run(target, fake, monkeypatch)
    assert set(first.values()) == {"created"} and fake.writes == 3
    assert fake.logins == [{"username": "admin", "password": "admin"}]  # the target's login
    assert fake.data["connections"]["db"]["password"] == "pw-lifecycle-42"
    second, out = run(target, fake, monkeypatch)
    assert set(second.values()) == {"unchanged"} and fake.writes == 3
    assert "connections: unchanged (1)" in out and "pw-lifecycle-42" not in out


def test_no_wait_skips_the_step(target: Target, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeAirflow()
    outcome, out = run(target, fake, monkeypatch, no_wait=True)
    assert outcome == {} and fake.writes == 0 and fake.logins == []
    assert "skipped: with --no-wait" in out


def test_a_dry_run_without_a_port_forward_plans_every_object(target: Target,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    outcome, out = run(target, None, monkeypatch, dry_run=True)
    assert outcome == {"connections/db": "created", "variables/v": "created", "pools/p": "created"}
    assert "[dry-run] create Airflow connection db (REST API)" in out
