"""A small client for Airflow 3's public REST API (`/api/v2`, token from `POST /auth/token`).

Only documented endpoints. A starting API server (connection refused, 502/503/504 from a port-forward or a
proxy) is retried with backoff; everything else becomes one UserError line naming the URL and what to do.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import httpx

from automation.core.errors import UserError
from automation.core.runner import register_secret

# Answers a proxy or port-forward gives while the api-server behind it is (re)starting.
_RETRY_STATUS = {502, 503, 504}


def _p(value: str) -> str:
    return quote(value, safe="")


class AirflowApi:
    def __init__(self, url: str, *, connect_timeout: float = 60, request_timeout: float = 30,
                 transport: httpx.BaseTransport | None = None):
        self.url = url.rstrip("/")
        self.connect_timeout = connect_timeout
        self.username: str | None = None
        self._client = httpx.Client(base_url=self.url, timeout=request_timeout, transport=transport,
                                    headers={"Accept": "application/json"})

    def close(self) -> None:
        self._client.close()

    # -- transport ----------------------------------------------------------------------------------------------
    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> httpx.Response:
        """One call, retried while the server is starting; a status outside `ok` (and not 404) is an error."""
        deadline = time.monotonic() + self.connect_timeout
        delay = 0.5
        while True:
            try:
                response = self._client.request(method, path, **kwargs)
            except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.ConnectTimeout) as exc:
                if time.monotonic() + delay > deadline:
                    raise UserError(
                        f"Airflow API at {self.url} is not reachable ({type(exc).__name__}: {_first(exc)}) "
                        f"after {self.connect_timeout:.0f}s",
                        "start Airflow (nox -s up) and check `nox -s status`, or pass --url",
                    ) from None
            except httpx.TimeoutException:
                raise UserError(f"Airflow API at {self.url} did not answer {method} {path} within "
                                f"{self._client.timeout.read}s", "check the api-server pod (nox -s status)") from None
            else:
                if response.status_code not in _RETRY_STATUS or time.monotonic() + delay > deadline:
                    return self._check(response, method, path, ok)
            time.sleep(delay)
            delay = min(delay * 2, 5)

    def _check(self, response: httpx.Response, method: str, path: str, ok: tuple[int, ...]) -> httpx.Response:
        code = response.status_code
        if code in ok or code == 404:
            return response
        detail = _detail(response)
        if code == 401:
            raise UserError(f"Airflow API at {self.url} refused the token for {method} {path} (HTTP 401: {detail})",
                            "log in again: run the same command again")
        if code == 403:
            raise UserError(f"user {self.username!r} may not {method} {path} at {self.url} (HTTP 403: {detail})",
                            "use an Admin or Op user (--username/--password)")
        raise UserError(f"Airflow API {method} {self.url}{path} answered HTTP {code}: {detail}",
                        "check the api-server logs (nox -s status)")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.request(method, path, **kwargs)
        if response.status_code == 404:
            raise UserError(f"Airflow API {method} {self.url}{path}: not found (HTTP 404: {_detail(response)})")
        return response.json()

    # -- endpoints ----------------------------------------------------------------------------------------------
    def version(self) -> str:
        response = self.request("GET", "/api/v2/version")
        if response.status_code == 404:
            raise UserError(f"{self.url} does not serve Airflow 3's REST API (GET /api/v2/version: HTTP 404)",
                            "point --url at the Airflow api-server")
        return str(response.json().get("version", "?"))

    def login(self, username: str, password: str) -> None:
        self.username = username
        response = self.request("POST", "/auth/token", ok=(200, 201, 401, 403),
                                json={"username": username, "password": password})
        if response.status_code in (401, 403):
            raise UserError(
                f"login as {username!r} at {self.url} was refused (HTTP {response.status_code}: "
                f"{_detail(response)}): wrong username or password",
                "pass --username/--password, or check the target's login (targets.yaml or its Secret)",
            )
        if response.status_code == 404:
            raise UserError(f"{self.url} has no POST /auth/token (HTTP 404)",
                            "the auth manager must issue tokens (FAB or simple auth manager)")
        token = str(response.json().get("access_token") or "")
        if not token:
            raise UserError(f"POST {self.url}/auth/token returned no access_token")
        self.use_token(token)

    def use_token(self, token: str, who: str | None = None) -> None:
        """Send every later request with this bearer token (issued by /auth/token, or by an identity provider)."""
        if who is not None:
            self.username = who
        register_secret(token)
        self._client.headers["Authorization"] = f"Bearer {token}"

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        response = self.request("GET", f"/api/v2/dags/{_p(dag_id)}")
        return None if response.status_code == 404 else dict(response.json())

    def dag_details(self, dag_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/api/v2/dags/{_p(dag_id)}/details"))

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self._json("PATCH", f"/api/v2/dags/{_p(dag_id)}", params={"update_mask": "is_paused"},
                   json={"is_paused": paused})

    def dag_ids(self, limit: int = 100) -> tuple[list[str], int]:
        """Up to `limit` DAG ids and how many there are in all."""
        data = self._json("GET", "/api/v2/dags", params={"limit": limit, "order_by": "dag_id"})
        return [d["dag_id"] for d in data.get("dags", [])], int(data.get("total_entries", 0))

    def every_dag_id(self, page: int = 100) -> list[str]:
        """Every DAG id, a page at a time (the API caps a page at its maximum_page_limit, 100 by default)."""
        found: list[str] = []
        while True:
            data = self._json("GET", "/api/v2/dags", params={"limit": page, "offset": len(found), "order_by": "dag_id"})
            batch = [d["dag_id"] for d in data.get("dags", [])]
            found += batch
            if not batch or len(found) >= int(data.get("total_entries", 0)):
                return found

    def last_finished_task(self) -> dict[str, Any] | None:
        """The task instance that ended last, in any DAG and run (succeeded or failed), or None."""
        data = self._json("GET", "/api/v2/dags/~/dagRuns/~/taskInstances",
                          params={"order_by": "-end_date", "limit": 1, "state": ["success", "failed"]})
        found = data.get("task_instances") or []
        return found[0] if found else None

    def task_ids(self, dag_id: str) -> list[str]:
        data = self._json("GET", f"/api/v2/dags/{_p(dag_id)}/tasks")
        return sorted(t["task_id"] for t in data.get("tasks", []))

    def latest_runs(self, dag_id: str, limit: int = 5) -> list[dict[str, Any]]:
        """The DAG's newest runs first (by run_after: when each run was due, manual runs included)."""
        data = self._json("GET", f"/api/v2/dags/{_p(dag_id)}/dagRuns",
                          params={"order_by": "-run_after", "limit": limit})
        return list(data.get("dag_runs", []))

    def find_run(self, dag_id: str, run_id: str) -> dict[str, Any] | None:
        response = self.request("GET", f"/api/v2/dags/{_p(dag_id)}/dagRuns/{_p(run_id)}")
        return None if response.status_code == 404 else dict(response.json())

    def import_errors(self) -> list[dict[str, Any]]:
        data = self._json("GET", "/api/v2/importErrors", params={"limit": 100})
        return list(data.get("import_errors", []))

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None) -> dict[str, Any]:
        # logical_date null: a manual run with no data interval, allowed any number of times.
        body: dict[str, Any] = {"logical_date": None}
        if conf:
            body["conf"] = conf
        return dict(self._json("POST", f"/api/v2/dags/{_p(dag_id)}/dagRuns", ok=(200, 201), json=body))

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return dict(self._json("GET", f"/api/v2/dags/{_p(dag_id)}/dagRuns/{_p(run_id)}"))

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        data = self._json("GET", f"/api/v2/dags/{_p(dag_id)}/dagRuns/{_p(run_id)}/taskInstances",
                          params={"limit": 100})
        return list(data.get("task_instances", []))

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> list[str]:
        """The task's log lines. JSON answers hold structured events or plain strings (when unparsable)."""
        path = f"/api/v2/dags/{_p(dag_id)}/dagRuns/{_p(run_id)}/taskInstances/{_p(task_id)}/logs/{try_number}"
        response = self.request("GET", path, params={"full_content": "true", "map_index": map_index})
        if response.status_code == 404:
            return [f"(no log: {_detail(response)})"]
        return format_log(response.json().get("content"))


def format_log(content: Any) -> list[str]:
    if isinstance(content, str):
        return content.splitlines()
    lines: list[str] = []
    for item in content or []:
        if isinstance(item, str):
            lines.extend(item.splitlines())
            continue
        if not isinstance(item, dict):
            continue
        event = str(item.get("event", ""))
        # Airflow wraps where it read the log from in CI-style group markers: keep the fact, drop the markers.
        if event.startswith("::group::"):
            sources = item.get("sources") or []
            if sources:
                lines.append(f"(read from {', '.join(map(str, sources))})")
            continue
        if event == "::endgroup::":
            continue
        level = item.get("level")
        stamp = str(item.get("timestamp") or "")[:19].replace("T", " ")
        prefix = " ".join(p for p in (stamp, f"[{level}]" if level else "") if p)
        text = f"{prefix} {event}" if prefix else event
        lines.extend(text.splitlines())
        # An exception travels as structured data next to the event, not inside it.
        for error in item.get("error_detail") or []:
            if isinstance(error, dict):
                frames = error.get("frames") or []
                for frame in frames[-3:]:
                    if isinstance(frame, dict):
                        lines.append(f"    at {frame.get('filename')}:{frame.get('lineno')} in {frame.get('name')}")
                lines.append(f"    {error.get('exc_type')}: {error.get('exc_value')}")
    return lines


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", "")
    except ValueError:
        detail = response.text
    if not isinstance(detail, str):
        detail = str(detail)
    return " ".join(detail.split())[:200] or response.reason_phrase


def _first(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:120] if text else "no detail"
