"""The API server going away mid-command is one clear line, from the real client's real exception."""

from __future__ import annotations

import socket

import pytest
from kubernetes import client

from automation.k8s.cluster import lost_connection


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_api_server_is_named_with_its_address() -> None:
    port = _closed_port()
    config = client.Configuration(host=f"https://127.0.0.1:{port}")
    config.retries = 0
    with pytest.raises(Exception) as raised:  # whatever the client raises is what main sees
        client.CoreV1Api(client.ApiClient(config)).list_namespace(_request_timeout=3)
    assert lost_connection(raised.value) == (
        f"the Kubernetes API server at 127.0.0.1:{port} stopped answering (connection refused)")


def test_other_errors_are_not_taken_for_a_lost_connection() -> None:
    assert lost_connection(ValueError("bad value")) is None
    try:
        raise RuntimeError("outer") from KeyError("inner")
    except RuntimeError as exc:
        assert lost_connection(exc) is None
