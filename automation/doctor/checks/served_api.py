"""An Airflow that serves its own URL (Cloud Composer): the environment as `up` needs it, and its REST API
answering an authenticated request with the user's Google access token. Helm targets reach their API through
the UI port-forward, which has a line of its own."""

from __future__ import annotations

from automation.doctor.findings import Finding, not_applicable, ok
from automation.doctor.probe import Probe

NAME = "airflow api"


def check_served_api(probe: Probe) -> Finding:
    deployer = probe.provider.deployer
    if deployer.ui_forward is not None:
        return not_applicable(NAME, "reached through the UI port-forward (its own line)")
    endpoint = deployer.api_endpoint()  # reads the environment: a missing or stopped one is a UserError (a blocker)
    assert endpoint is not None  # only a dry run goes without one
    api = endpoint.connect()
    try:
        version = api.version()
        _, dags = api.dag_ids(limit=1)  # an authenticated call: a token Composer refuses fails here
    finally:
        api.close()
    return ok(NAME, f"{endpoint.url}: Airflow {version}, {dags} DAGs, signed in as {endpoint.credentials.who}")
