"""A target's Airflow API endpoint: where it is (--url, `up`'s port-forward, or a temporary one) and the login to
use (--username/--password, the target's fixed login, or its Secret). Every caller passes what the user gave it,
and gets an `airflow.Endpoint` or its parts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from automation.airflow.endpoint import Credentials, Endpoint, PasswordLogin
from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.k8s.airflow_secrets import decode, login_secret_name
from automation.k8s.cluster import Unreachable
from automation.k8s.port_forward import PortForward, pick_port
from automation.providers.base import Provider
from automation.providers.google_sign_in import google_credentials

E2E_FORWARD = "e2e-port-forward"


@contextmanager
def api_url(runner: Runner, provider: Provider, url: str | None = None) -> Iterator[str]:
    """--url; else the port-forward `up` left running; else a temporary port-forward, closed afterwards."""
    if url:
        yield url
        return
    forward = provider.deployer.ui_forward
    if forward is None:
        direct = provider.deployer.api_endpoint()
        if direct is None:  # a dry run that cannot read where Airflow is served
            raise UserError(f"target {provider.target.name}: Airflow's URL cannot be read",
                            "pass --url with the environment's airflowUri "
                            "(gcloud composer environments describe ENV --format='value(config.airflowUri)')")
        runner.ok(f"Airflow served at {direct.url}")
        yield direct.url
        return
    running = forward.healthy_url()
    if running:
        runner.ok(f"using the port-forward of `nox -s up`: {running}")
        yield running
        return
    with temporary_forward(runner, provider) as opened:
        yield opened


@contextmanager
def temporary_forward(runner: Runner, provider: Provider) -> Iterator[str]:
    target = provider.target
    if runner.which("kubectl") is None:
        raise UserError("'kubectl' was not found on PATH, and no Airflow URL is known",
                        f"install kubectl, run `{target.command('up')}` (it opens the port-forward), "
                        "or pass --url")
    state = provider.state()
    if isinstance(state, Unreachable):
        raise UserError(f"no Airflow API to check: no port-forward is running and the cluster is unreachable "
                        f"({state.why})", f"start Airflow with `{target.command('up')}`, or pass --url")
    # Its own files: `up`'s port-forward is not ours to stop.
    ui = provider.deployer.ui_forward
    assert ui is not None  # a cluster that answers is a Helm target's, reached through a port-forward
    forward = PortForward(E2E_FORWARD, ui.folder, ui.kubectl_args, ui.namespace, ui.service)
    port = pick_port(target.ui.port + 1, explicit=False)
    try:
        with runner.step(f"temporary port-forward to svc/{forward.service} on {port}"):
            url = forward.start(runner, port,
                                fix=f"start Airflow with `{target.command('up')}`, or pass --url")
        yield url
    finally:
        forward.stop(runner)


# -- credentials -----------------------------------------------------------------------------------------------
def credentials(provider: Provider, username: str | None = None, password: str | None = None) -> Credentials:
    """--username/--password; else the sign-in of an API served directly (Composer: a Google access token); else
    a Google access token where the API takes one (the Composer rehearsal); else the target's login, whose
    password is in a Secret on a target without a fixed one."""
    if not password and provider.deployer.ui_forward is None:
        direct = provider.deployer.api_endpoint()
        if direct is not None:
            return direct.credentials
    target = provider.target
    if not password and provider.api_sign_in == "google":
        # Composer's sign-in, also on its rehearsal (whose API server checks the token with Google).
        google = google_credentials(provider.runner)
        if google is not None:
            return google
        if not provider.runner.dry_run:
            raise UserError("gcloud printed no access token", "sign in with `gcloud auth login`")
    username = username or target.login.username
    password = password or target.login.password
    if password:
        # --password is registered by the command; the target's fixed password is in git, not a secret, and
        # masking a word such as "admin" everywhere would hide the user name too.
        return PasswordLogin(username, password)
    name = login_secret_name(target)
    state = provider.state()
    if isinstance(state, Unreachable):
        raise UserError(f"target {target.name!r} has no fixed password and its Secret {name} cannot be read "
                        f"({state.why})", "pass --password")
    values = decode(state.get("Secret", name, target.namespace))
    password = values.get("password") or (next(iter(values.values())) if len(values) == 1 else "")
    if not password:
        raise UserError(f"Secret {name} in namespace {target.namespace} has no 'password' key",
                        "pass --password, or create the Secret with a 'password' key")
    return PasswordLogin(values.get("username") or username, password)


def endpoint(provider: Provider, url: str, *, username: str | None = None, password: str | None = None,
             connect_timeout: float = 60) -> Endpoint:
    """The endpoint at a URL already known (from `api_url`), signed in to as `credentials` resolves."""
    return Endpoint(url, credentials(provider, username, password), connect_timeout)
