"""`airflow.endpoint`: an endpoint signs a client in by its credentials, whichever kind they are."""

from __future__ import annotations

import json

import httpx
import pytest

from automation.airflow import endpoint as module
from automation.airflow.client import AirflowApi
from automation.airflow.endpoint import BearerToken, Endpoint, PasswordLogin


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": "issued-token-7"})
        return httpx.Response(200, json={"dag_id": "a"})

    monkeypatch.setattr(module, "AirflowApi",
                        lambda url, **kw: AirflowApi(url, transport=httpx.MockTransport(handler), **kw))
    return requests


def test_a_password_login_asks_the_server_for_a_token(sent: list[httpx.Request]) -> None:
    api = Endpoint("http://airflow.test", PasswordLogin("admin", "pw"), connect_timeout=5).connect()
    assert api.connect_timeout == 5 and api.username == "admin"
    assert [(r.url.path, json.loads(r.content)) for r in sent] == [("/auth/token",
                                                                    {"username": "admin", "password": "pw"})]
    api.dag("a")
    assert sent[-1].headers["Authorization"] == "Bearer issued-token-7"


def test_a_bearer_token_is_used_without_a_login(sent: list[httpx.Request]) -> None:
    api = Endpoint("http://airflow.test", BearerToken("google-id-token", "me@example.com")).connect()
    api.dag("a")
    assert [r.url.path for r in sent] == ["/api/v2/dags/a"] and api.username == "me@example.com"
    assert sent[0].headers["Authorization"] == "Bearer google-id-token"
