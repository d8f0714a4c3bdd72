"""The REST store against a fake Airflow API (httpx.MockTransport): paged reads, one bulk PATCH per kind with
the documented body, refusals as one line, and nothing sent in a dry run."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from automation.airflow.client import AirflowApi
from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.providers.airflow_converge import Change
from automation.providers.airflow_rest import RestStore
from automation.settings.airflow_yaml import AirflowObject


def api_with(handler: Any) -> AirflowApi:
    return AirflowApi("http://airflow.test", transport=httpx.MockTransport(handler), connect_timeout=1)


def variable(key: str) -> AirflowObject:
    return AirflowObject("variables", key, {"key": key, "value": "v", "description": "d"}, "proj",
                         Path("k8s/proj/airflow.yaml"))


def test_reads_every_page() -> None:
    offsets = []

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        offsets.append(offset)
        page = [{"name": f"p{i}", "slots": 1} for i in range(offset, min(offset + 100, 150))]
        return httpx.Response(200, json={"pools": page, "total_entries": 150})

    found = RestStore(Runner(out=io.StringIO()), api_with(handler)).current("pools")
    assert found is not None and len(found) == 150 and found["p149"]["slots"] == 1
    assert offsets == [0, 100]


def test_writes_one_bulk_request_per_kind() -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("PATCH", "/api/v2/variables")
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"create": {"success": ["a", "b"], "errors": []},
                                         "delete": {"success": ["old"], "errors": []}, "update": None})

    runner = Runner(out=io.StringIO())
    RestStore(runner, api_with(handler)).apply("variables", [
        Change("create", "variables", "a", variable("a")), Change("update", "variables", "b", variable("b")),
        Change("delete", "variables", "old", project="proj")])
    assert sent == [{"actions": [
        {"action": "create", "action_on_existence": "overwrite",
         "entities": [variable("a").body, variable("b").body]},
        {"action": "delete", "action_on_non_existence": "skip", "entities": ["old"]}]}]
    out = runner.out.getvalue()  # type: ignore[attr-defined]
    assert "update Airflow variable b (REST API at http://airflow.test)" in out
    assert "delete Airflow variable old (REST API at http://airflow.test; made for project proj" in out


def test_an_entity_airflow_refuses_is_one_line() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"create": {"success": [], "errors": [
            {"error": "Value too long\n for column", "status_code": 400}]}})

    with pytest.raises(UserError) as info:
        RestStore(Runner(out=io.StringIO()), api_with(handler)).apply(
            "variables", [Change("create", "variables", "a", variable("a"))])
    assert info.value.problem == "Airflow refused to create variables: Value too long for column"


def test_a_dry_run_sends_nothing() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"sent {request.method} {request.url}")

    runner = Runner(dry_run=True, out=io.StringIO())
    RestStore(runner, api_with(handler)).apply("variables", [Change("create", "variables", "a", variable("a"))])
    assert runner.commands() == ["create Airflow variable a (REST API at http://airflow.test)"]


def test_without_an_api_nothing_is_read() -> None:
    assert RestStore(Runner(out=io.StringIO()), None).current("connections") is None


@pytest.mark.parametrize("kind", ["connections", "variables"])
def test_encrypted_objects_unreadable_under_another_fernet_key_name_the_cause(kind: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"detail": "Internal Server Error"})

    with pytest.raises(UserError) as info:
        RestStore(Runner(out=io.StringIO()), api_with(handler)).current(kind)
    assert f"could not read the {kind}" in info.value.problem and "Fernet key" in info.value.problem
    assert "drop and recreate the metadata database" in (info.value.fix or "")


def test_pools_answering_500_stay_a_plain_api_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"detail": "boom"})

    with pytest.raises(UserError) as info:
        RestStore(Runner(out=io.StringIO()), api_with(handler)).current("pools")
    assert "answered HTTP 500" in info.value.problem and "Fernet" not in info.value.problem
