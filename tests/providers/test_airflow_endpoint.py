"""`providers.airflow_endpoint`: a target's API URL and login from what the user passed, else the target's own."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from automation.airflow.endpoint import PasswordLogin
from automation.core.errors import UserError
from automation.providers import Provider
from automation.providers.airflow_endpoint import api_url, credentials, endpoint


def test_a_url_given_is_used_as_it_is(build: Callable[..., Provider]) -> None:
    provider = build("composer")
    with api_url(provider.runner, provider, "https://example.composer.googleusercontent.com") as url:
        assert url == "https://example.composer.googleusercontent.com"


def test_composer_without_a_url_names_where_to_find_it(build: Callable[..., Provider]) -> None:
    provider = build("composer")
    with pytest.raises(UserError) as caught, api_url(provider.runner, provider, None):
        pass
    assert "airflowUri" in (caught.value.fix or "")


def test_the_login_passed_wins_over_the_targets(build: Callable[..., Provider]) -> None:
    provider = build("local")
    assert credentials(provider, "ops", "secret-pw") == PasswordLogin("ops", "secret-pw")
    login = provider.target.login
    if login.password:
        assert credentials(provider) == PasswordLogin(login.username, login.password)


def test_an_endpoint_carries_the_url_login_and_timeout(build: Callable[..., Provider]) -> None:
    built = endpoint(build("local"), "http://localhost:8080", username="u", password="p", connect_timeout=7)
    assert (built.url, built.credentials, built.connect_timeout) == ("http://localhost:8080", PasswordLogin("u", "p"),
                                                                      7)
