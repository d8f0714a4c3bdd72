"""`down` (stop, keep data, logs and secrets) and `down --purge` (delete everything)."""

from __future__ import annotations

from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.lifecycle.apply_airflow_objects import ensure_airflow_objects
from automation.lifecycle.lock import exclusive
from automation.providers import provider_for
from automation.providers.base import UpOptions
from automation.settings.airflow_yaml import AirflowObjects
from automation.settings.model import Target


def down(runner: Runner, target: Target, options: UpOptions) -> None:
    provider = provider_for(runner, target)
    with exclusive(target, "down"):
        forward = provider.deployer.ui_forward
        if forward is not None:
            forward.stop(runner)
        if options.purge:
            # On Composer Google runs the environment's cluster: what goes is what `up` made on the environment.
            made = ("what `up` made on Composer environment (its user-workloads objects, AUTOMATION_* variables, "
                    "DAG files, marked connections, variables and pools; the environment and data stay)"
                    if provider.cluster is None else "namespace, volumes, secrets")
            if not options.yes and not runner.dry_run:
                answer = input(f"Delete {made} for target {target.name}? [y/N] ")
                if answer.strip().lower() not in ("y", "yes"):
                    raise UserError("purge cancelled", "nothing was deleted; pass --yes to skip the question")
            if provider.cluster is None:
                # Before the rest: the API is reached through the environment, which stays.
                ensure_airflow_objects(runner, provider, AirflowObjects(), "", options)
            provider.purge_all()
            runner.say(f"down --purge: target {target.name} deleted ({made}).")
            if target.database.mode == "external":
                runner.say("    note: the external metadata database keeps its data, encrypted with the deleted "
                           "Fernet key: drop and recreate it before the next `up` (its connections and variables "
                           "cannot be read).")
            return
        provider.down()
        runner.say(f"down: target {target.name} stopped; data, logs and secrets are kept. "
                   f"`{target.command('up')}` brings it back; `--purge` deletes everything.")
