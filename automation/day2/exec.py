"""`shell` and `airflow -- ARGS`: commands inside a running component, through `kubectl exec` in its serving pod
(ready, not being deleted: components.serving_pod), attached to this terminal; the exit code is the command's.
On Cloud Composer, `airflow -- ARGS` is `gcloud composer environments run` (Composer's executeAirflowCommand API)."""

from __future__ import annotations

import shlex
import sys

from automation.core.errors import UserError
from automation.day2.components import cluster_only, composer_where, exec_ref, kubectl, resolve_one
from automation.providers import Provider

# Airflow CLI commands that take a sub-command (`airflow dags list`): gcloud wants both words before its `--`.
AIRFLOW_GROUPS = frozenset({"assets", "backfill", "config", "connections", "dags", "db", "jobs", "kubernetes",
                            "pools", "providers", "roles", "tasks", "users", "variables", "celery", "fab-db"})


def _exec(provider: Provider, component: str, command: list[str], tty: bool) -> int:
    """kubectl exec into the component's own container; stdin is passed on, and a terminal is given when this
    one is a terminal (a shell, or a prompt such as `airflow db clean`'s)."""
    found = resolve_one(provider, component)
    flags = ["-i", "-t"] if tty else ["-i"]
    cmd = [*kubectl(provider), "exec", *flags, exec_ref(provider, found), "-c", found.container, "--", *command]
    return provider.runner.attached(cmd, tty=tty)


def shell(provider: Provider, component: str, command: list[str]) -> int:
    cluster_only(provider, "a shell in Airflow's components", composer_cli_hint(provider))
    return _exec(provider, component, command or ["bash"], tty=sys.stdin.isatty())


def airflow(provider: Provider, component: str, args: list[str]) -> int:
    if provider.cluster is None:  # Cloud Composer: no kubectl access to Airflow's pods
        return _composer_run(provider, args)
    # Output is streamed (and masked) without a terminal, so it can be piped: `... -- dags list -o json | jq`.
    return _exec(provider, component, ["airflow", *args], tty=False)


def _composer_run(provider: Provider, args: list[str]) -> int:
    """gcloud streams the command's output as Composer's API returns it, and exits with the command's code.

    gcloud's allowlist for `composer environments run` ends before Airflow 3.0.0 for every sub-command (gcloud 528,
    googlecloudsdk/command_lib/composer/util.py): on Airflow 3 it refuses them all, so this says what works."""
    if _airflow_3(provider):
        hint = composer_cli_hint(provider)
        if provider.runner.dry_run:
            provider.runner.plan(f"not run here; on Composer: {hint}")
        raise UserError(f"gcloud runs no Airflow CLI command on Cloud Composer environments with Airflow 3 "
                        f"(this one: {provider.airflow_version()})", f"use: {hint}")
    return provider.runner.attached(composer_run_argv(provider, args))


def composer_run_argv(provider: Provider, args: list[str]) -> list[str]:
    """`airflow ARGS` as `gcloud composer environments run`: the sub-command (two words for a group such as
    `dags list`) before gcloud's `--`, its arguments after it."""
    words = 2 if args and args[0] in AIRFLOW_GROUPS else 1
    head, rest = args[:words], args[words:]
    return ["gcloud", "composer", "environments", "run", *composer_where(provider).split(),
            *(head or ["SUBCOMMAND"]), *(["--", *rest] if rest else [])]


def _airflow_3(provider: Provider) -> bool:
    return int(provider.airflow_version().split(".")[0]) >= 3


def composer_cli_hint(provider: Provider) -> str:
    """What runs Airflow CLI commands on the environment. Composer documents airflowctl (Airflow's REST client) for
    Airflow 3; the REST API itself takes the same Google token."""
    if not _airflow_3(provider):
        return shlex.join(composer_run_argv(provider, ["SUBCOMMAND", "ARGS"])) + " (Airflow CLI commands only)"
    return ("k8s/PROJECT/airflow.yaml and `up` for connections, variables and pools; for the rest, Airflow's REST API "
            "(or airflowctl) at AIRFLOW_URI with -H \"Authorization: Bearer $(gcloud auth print-access-token)\", "
            f"AIRFLOW_URI from `gcloud composer environments describe {composer_where(provider)} "
            "--format='value(config.airflowUri)'`")
