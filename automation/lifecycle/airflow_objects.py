"""`up`'s last step: the connections, variables and pools the projects declare (k8s/PROJECT/airflow.yaml), made
to hold in the target's Airflow once its API answers. What is compared and written is providers.airflow_objects;
how Airflow is reached is the provider's `airflow_objects_store`."""

from __future__ import annotations

from automation.core.runner import Runner
from automation.providers import Provider
from automation.providers.airflow_endpoint import endpoint
from automation.providers.airflow_objects import Ledger, converge
from automation.providers.base import UpOptions
from automation.settings.airflow_objects import FILE_NAME, AirflowObjects

LEDGER = "airflow-objects.json"
TITLE = f"Airflow connections, variables, pools (k8s/PROJECT/{FILE_NAME})"


def ensure_airflow_objects(runner: Runner, provider: Provider, declared: AirflowObjects, url: str,
                           options: UpOptions) -> dict[str, str]:
    ledger = Ledger.load(provider.state_dir() / LEDGER)
    with runner.step(TITLE):
        forward = provider.deployer.ui_forward
        if forward is None:  # Composer: its store is gcloud's Airflow CLI, no API login
            return converge(runner, provider.airflow_objects_store(None, ledger), declared, ledger)
        if options.no_wait and not runner.dry_run:
            runner.say("    skipped: with --no-wait Airflow's API is not waited for; the next `up` applies them")
            return {}
        # A dry run reads through a port-forward that already runs (a plan from Airflow's real state), if any.
        reachable = forward.healthy_url() if runner.dry_run else url
        if not reachable:
            return converge(runner, provider.airflow_objects_store(None, ledger), declared, ledger)
        api = endpoint(provider, reachable).connect()
        try:
            return converge(runner, provider.airflow_objects_store(api, ledger), declared, ledger)
        finally:
            api.close()
