"""`airflow.client`: the REST client against a fake API server (httpx.MockTransport): a starting server retried,
refusals as one line naming the URL, a login's token sent and masked, task logs formatted."""

from __future__ import annotations

import io
from typing import Any

import httpx
import pytest

from automation.airflow.client import AirflowApi, format_log
from automation.core.errors import UserError
from automation.core.runner import Runner


def api_with(handler: Any, connect_timeout: float = 1) -> AirflowApi:
    return AirflowApi("http://airflow.test/", transport=httpx.MockTransport(handler), connect_timeout=connect_timeout)


def test_a_starting_server_is_retried_until_it_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("automation.airflow.client.time.sleep", lambda _: None)
    answers = iter([httpx.Response(503), httpx.Response(502), httpx.Response(200, json={"version": "3.1.0"})])
    api = api_with(lambda request: next(answers), connect_timeout=60)
    assert api.url == "http://airflow.test" and api.version() == "3.1.0"


def test_a_refused_login_is_one_line_naming_the_user() -> None:
    api = api_with(lambda request: httpx.Response(401, json={"detail": "Invalid credentials"}))
    with pytest.raises(UserError) as caught:
        api.login("admin", "wrong")
    assert "login as 'admin' at http://airflow.test was refused (HTTP 401: Invalid credentials)" in caught.value.problem


def test_the_login_token_is_sent_and_masked() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/token":
            return httpx.Response(201, json={"access_token": "token-from-login-31337"})
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(200, json={"dags": [{"dag_id": "a"}], "total_entries": 1})

    api = api_with(handler)
    api.login("admin", "admin")
    assert api.dag_ids() == (["a"], 1) and seen == ["Bearer token-from-login-31337"]
    runner = Runner(out=io.StringIO())
    runner.say("token-from-login-31337")
    assert "token-from-login-31337" not in runner.out.getvalue()  # type: ignore[attr-defined]


def test_a_bearer_token_from_elsewhere_is_sent_as_it_is() -> None:
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(403, json={"detail": "Forbidden"})

    api = api_with(handler)
    api.use_token("id-token-42", "me@example.com")
    with pytest.raises(UserError) as caught:
        api.set_paused("a", False)
    assert seen == ["Bearer id-token-42"] and "user 'me@example.com' may not PATCH" in caught.value.problem


def test_log_events_become_lines_without_group_markers() -> None:
    content = [{"event": "::group::Log message source details", "sources": ["/opt/airflow/logs/a.log"]},
               {"event": "::endgroup::"},
               {"event": "hello", "level": "info", "timestamp": "2026-01-02T03:04:05.678Z"},
               {"event": "boom", "level": "error", "error_detail": [
                   {"exc_type": "ValueError", "exc_value": "bad", "frames": [
                       {"filename": "t.py", "lineno": 3, "name": "run"}]}]},
               "plain line"]
    assert format_log(content) == ["(read from /opt/airflow/logs/a.log)", "2026-01-02 03:04:05 [info] hello",
                                   "[error] boom", "    at t.py:3 in run", "    ValueError: bad", "plain line"]
    assert format_log("one\ntwo") == ["one", "two"]
