"""`up`: every step reads the state first and does only what is missing, so it is safe to run again.

The order is the same on every target; what each step does there is the provider's (providers/).
"""

from __future__ import annotations

from typing import Any

from automation.core import prereqs
from automation.core.errors import UserError
from automation.core.runner import Runner
from automation.dags.parity import check_once
from automation.images.sync import images, plan_tool_tags
from automation.lifecycle.apply_airflow_objects import ensure_airflow_objects
from automation.lifecycle.lock import exclusive
from automation.providers import Provider, provider_for
from automation.providers.base import UpOptions
from automation.settings.airflow_yaml import declared_objects
from automation.settings.model import Target
from automation.settings.secret_files import prepare_secret_files


def up(runner: Runner, target: Target, options: UpOptions) -> dict[str, Any]:
    provider = provider_for(runner, target)
    report: dict[str, Any] = {"target": target.name}
    mode = " (dry run: nothing is changed)" if runner.dry_run else ""
    runner.say(f"up: target {target.name} ({provider.kind}), namespace {target.namespace}{mode}")
    with exclusive(target, "up"):
        with runner.step("prerequisites"):
            preflight(provider, options)
            prereqs.check(runner, provider.binaries)
        # Every input is read before anything is made: a bad file stops `up` with nothing changed. Tool images
        # are built later, but their tags (their inputs' hash) are known now, for the deployment to name them.
        if provider.tool_images:
            plan_tool_tags(runner, provider)
        deployment = provider.deployer.prepare(options)
        projects = provider.project_objects()
        declared = declared_objects(target)
        if provider.cloud is not None:
            with runner.step(provider.cloud.title):
                report["cloud"] = provider.cloud.ensure(deployment)
        if options.cloud_only:
            if provider.cloud is None:
                raise UserError(f"target {target.name} ({provider.kind}) has no cloud side for --cloud-only",
                                "leave --cloud-only out: `up` makes everything the target needs")
            runner.say(f"\nCloud side {'planned' if runner.dry_run else 'done'}. Next: "
                       f"`{target.command('up')}` for the cluster side.")
            return report
        with runner.step(f"cluster ({provider.kind})"):
            provider.ensure_cluster()
        with runner.step("mounts"):
            provider.ensure_mounts()
        if provider.tool_images:
            with runner.step(f"images {provider.kind} needs: {', '.join(provider.tool_images)}"):
                # Their tags go to the target's state folder: the DAGs' images.json stays as committed.
                images(runner, target, only=provider.tool_images, tags_file=provider.tool_tags_file(),
                       provider=provider)
        report["objects"] = provider.ensure_objects(projects)
        if not options.skip_dags_check:
            with runner.step("DAG integrity and parity with the target (skip with --skip-dags-check)"):
                check_once(runner, provider, deployment)
        with runner.step(deployment.title):
            report["deploy"] = deployment.apply()
        report["url"] = url = provider.deployer.wait_and_open(options, report)
        report["airflow_objects"] = ensure_airflow_objects(runner, provider, declared, url, options)
    user, password = provider.login_hint()
    if runner.dry_run:
        runner.say(f"\nDry run complete: nothing was changed. A real run would serve {url} "
                   f"(login {user} / {password}).")
    else:
        runner.say(f"\nAirflow is up: {url}  login {user} / {password}")
    runner.say(f"Next: `{target.command('images')}`, then `{target.command('e2e')}`."
               + ("" if provider.deployer.ui_forward is None else
                  f" Stop the UI forward: `{target.command('down')}`."))
    runner.say(f"Total {runner.elapsed().strip()}")
    return report


def preflight(provider: Provider, options: UpOptions) -> None:
    """Input checks that need no tool: refuse before anything is made."""
    target = provider.target
    provider.check_resources()
    prepare_secret_files(provider.runner, target)
    if target.mounts is not None:
        for name, mount in (("dags", target.mounts.dags), ("data", target.mounts.data)):
            if not target.path(mount.host).is_dir():
                raise UserError(f"mount source {target.path(mount.host)} does not exist",
                                f"create it, or fix targets.{target.name}.mounts.{name}.host")
    if target.database.mode == "external" and provider.cluster is not None:
        from automation.k8s.airflow_secrets import check_external_db_answers

        note = check_external_db_answers(target)
        if note:
            provider.runner.say(f"    {note}")
    forward = provider.deployer.ui_forward
    if options.port is not None and forward is not None:
        from automation.k8s.port_forward import pick_port

        if forward.url() != f"http://localhost:{options.port}":
            pick_port(options.port, explicit=True)
