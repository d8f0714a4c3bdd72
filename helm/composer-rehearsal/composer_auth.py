"""Cloud Composer's Airflow API sign-in, rehearsed: the composer-rehearsal target mounts this file into its
Airflow components' config folder (on Airflow's sys.path) and names the class as `[core] auth_manager`.

Composer's Airflow API authenticates Google identities: a request carries the caller's Google access token
(`gcloud auth print-access-token`) as its bearer token, and the account's email is the Airflow user. This is
the chart's FAB auth manager plus exactly that: a bearer token that is not one of Airflow's own JWTs (the UI's
sign-in, `POST /auth/token`) is checked with Google's OAuth2 API `tokeninfo` method (as its discovery document
publishes it: POST https://www.googleapis.com/oauth2/v2/tokeninfo), and the verified email is the user,
registered on first use with the role Op (NEW_USER_ROLE_ENV changes it: Composer's own default for new users is
its setting, not read from its documentation here). The endpoint can be overridden
(TOKENINFO_URL_ENV): CI points it at the Google APIs double, which answers for the token gcloud is given there.

Runs inside Airflow's image: standard library, Airflow and the FAB provider only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager
from jwt import InvalidTokenError

TOKENINFO_URL_ENV = "COMPOSER_REHEARSAL_TOKENINFO_URL"
TOKENINFO_URL = "https://www.googleapis.com/oauth2/v2/tokeninfo"
NEW_USER_ROLE_ENV = "COMPOSER_REHEARSAL_NEW_USER_ROLE"
NEW_USER_ROLE = "Op"
# Every API request is authenticated: a verified token is remembered this long (or until it expires).
CACHE_SECONDS = 300

_verified: dict[str, tuple[str, float]] = {}


def google_email(token: str) -> str:
    """The verified email of the Google account `token` was issued to; InvalidTokenError when Google says no."""
    cached = _verified.get(token)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    url = os.environ.get(TOKENINFO_URL_ENV) or TOKENINFO_URL
    query = urllib.parse.urlencode({"access_token": token})
    request = urllib.request.Request(f"{url}?{query}", data=b"", method="POST",
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            info: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as exc:
        raise InvalidTokenError(f"Google refused the access token (HTTP {exc.code})") from None
    except (OSError, ValueError) as exc:
        raise InvalidTokenError(f"Google's tokeninfo at {url} did not answer: {exc}") from None
    email = str(info.get("email") or "")
    if not email or info.get("verified_email") is not True:
        raise InvalidTokenError("the access token names no verified email: sign in with `gcloud auth login`")
    lifetime = min(CACHE_SECONDS, int(info.get("expires_in") or CACHE_SECONDS))
    _verified[token] = (email, time.monotonic() + lifetime)
    return email


class GoogleTokenAuthManager(FabAuthManager):
    """FAB's auth manager that also takes a Google access token as a bearer token, as Composer's API does."""

    async def get_user_from_token(self, token: str) -> Any:
        if token.count(".") == 2:  # a JWT: Airflow's own sign-in
            return await super().get_user_from_token(token)
        email = await asyncio.to_thread(google_email, token)
        return self.google_user(email)

    def google_user(self, email: str) -> Any:
        # FAB providers 3.x read Flask's current_app while they add a user: inside the Flask app the auth manager
        # keeps (`flask_app`, which 2.x does not have, nor need).
        app = getattr(self, "flask_app", None)
        with app.app_context() if app is not None else contextlib.nullcontext():
            manager = self.security_manager
            user = manager.find_user(email=email)
            if user is None:
                role = manager.find_role(os.environ.get(NEW_USER_ROLE_ENV) or NEW_USER_ROLE)
                # No password: this account signs in with Google only ("!" is no hash any password matches).
                user = manager.add_user(username=email, first_name=email.split("@")[0], last_name="-", email=email,
                                        role=role, hashed_password="!")
                if not user:
                    raise InvalidTokenError(f"the Google account {email} could not be registered as an Airflow user")
            return user
