"""The user's Google access token, from gcloud: what Cloud Composer's Airflow API takes as its bearer token (and
the Composer rehearsal's API, which rehearses that sign-in)."""

from __future__ import annotations

from automation.airflow.endpoint import BearerToken
from automation.core.runner import Runner, register_secret

GOOGLE_SIGN_IN = "your Google account (gcloud auth print-access-token)"


def google_token(runner: Runner) -> str | None:
    """The access token gcloud prints for the signed-in account; None when a dry run cannot get one (planned as
    if Airflow had nothing)."""
    cmd = ["gcloud", "auth", "print-access-token"]
    if runner.dry_run:
        result = runner.try_read(cmd, timeout=60)
        token = result.stdout.strip() if result else ""
    else:
        token = runner.read(cmd, timeout=60, fix="sign in with `gcloud auth login`").stdout.strip()
    if token:
        register_secret(token)
    return token or None


def google_credentials(runner: Runner) -> BearerToken | None:
    token = google_token(runner)
    return BearerToken(token, GOOGLE_SIGN_IN) if token else None
