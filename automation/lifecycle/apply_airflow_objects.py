"""`up`'s last step: the connections, variables and pools the projects declare (k8s/PROJECT/airflow.yaml), made
to hold in the target's Airflow once its API answers. What is compared and written is providers.airflow_converge,
through Airflow's REST API on every target: behind the UI's port-forward with the target's login, or where the
deployer says it is served (Composer: its airflowUri, with a Google access token)."""

from __future__ import annotations

from automation.airflow.endpoint import Endpoint
from automation.core.runner import Runner
from automation.providers import Provider
from automation.providers.airflow_converge import Ledger, converge
from automation.providers.airflow_endpoint import endpoint
from automation.providers.airflow_rest import RestStore
from automation.providers.base import UpOptions
from automation.settings.airflow_yaml import FILE_NAME, AirflowObjects

LEDGER = "airflow-objects.json"
TITLE = f"Airflow connections, variables, pools (k8s/PROJECT/{FILE_NAME})"


def ensure_airflow_objects(runner: Runner, provider: Provider, declared: AirflowObjects, url: str,
                           options: UpOptions) -> dict[str, str]:
    ledger = Ledger.load(provider.state_dir() / LEDGER)
    with runner.step(TITLE):
        if options.no_wait and not runner.dry_run and provider.deployer.ui_forward is not None:
            runner.say("    skipped: with --no-wait Airflow's API is not waited for; the next `up` applies them")
            return {}
        reached = _endpoint(runner, provider, url)
        if reached is None:
            return converge(runner, RestStore(runner, None), declared, ledger)
        api = reached.connect()
        try:
            return converge(runner, RestStore(runner, api), declared, ledger)
        finally:
            api.close()


def _endpoint(runner: Runner, provider: Provider, url: str) -> Endpoint | None:
    """Where Airflow's API is read and written; None: planned as if Airflow had nothing (a dry run before it
    answers). A dry run reads through what already runs, so its plan comes from Airflow's real state."""
    forward = provider.deployer.ui_forward
    if forward is None:
        return provider.deployer.api_endpoint()
    reachable = forward.healthy_url() if runner.dry_run else url
    return endpoint(provider, reachable) if reachable else None
