"""Where an Airflow API is and how to sign in to it: a URL and one kind of credentials.

Callers sign in through `Endpoint.connect()` whatever the credentials are, so another kind (a Google identity
token for Cloud Composer) is one more class here and one more branch in the resolution, not a change to them.
"""

from __future__ import annotations

from dataclasses import dataclass

from automation.airflow.client import AirflowApi


@dataclass(frozen=True)
class PasswordLogin:
    """A user and password exchanged for a token at the API server's own `POST /auth/token`."""

    username: str
    password: str

    @property
    def who(self) -> str:
        return self.username

    def sign_in(self, api: AirflowApi) -> None:
        api.login(self.username, self.password)


@dataclass(frozen=True)
class BearerToken:
    """A token issued elsewhere (an identity provider), sent as it is."""

    token: str
    who: str = "a bearer token"

    def sign_in(self, api: AirflowApi) -> None:
        api.use_token(self.token, self.who)


Credentials = PasswordLogin | BearerToken


@dataclass(frozen=True)
class Endpoint:
    url: str
    credentials: Credentials
    # How long a starting API server (refused connections, 502/503/504) is waited for.
    connect_timeout: float = 60

    def client(self) -> AirflowApi:
        """A client for the URL, not yet signed in (a version check needs no login)."""
        return AirflowApi(self.url, connect_timeout=self.connect_timeout)

    def connect(self) -> AirflowApi:
        """A client signed in with the credentials; the caller closes it."""
        api = self.client()
        try:
            self.credentials.sign_in(api)
        except BaseException:
            api.close()
            raise
        return api
