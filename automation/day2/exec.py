"""`shell` and `airflow -- ARGS`: commands inside a running component, through `kubectl exec` on its workload
(kubectl picks a running pod), attached to this terminal; the exit code is the command's."""

from __future__ import annotations

import shlex
import sys

from automation.day2.components import cluster_only, composer_where, kubectl, resolve_one
from automation.providers import Provider

# Airflow CLI commands that take a sub-command (`airflow dags list`): gcloud wants both words before its `--`.
AIRFLOW_GROUPS = frozenset({"assets", "backfill", "config", "connections", "dags", "db", "jobs", "kubernetes",
                            "pools", "providers", "roles", "tasks", "users", "variables", "celery", "fab-db"})


def _exec(provider: Provider, component: str, command: list[str], tty: bool) -> int:
    """kubectl exec into the component's own container; stdin is passed on, and a terminal is given when this
    one is a terminal (a shell, or a prompt such as `airflow db clean`'s)."""
    found = resolve_one(provider, component)
    flags = ["-i", "-t"] if tty else ["-i"]
    cmd = [*kubectl(provider), "exec", *flags, found.ref, "-c", found.container, "--", *command]
    return provider.runner.attached(cmd, tty=tty)


def shell(provider: Provider, component: str, command: list[str]) -> int:
    cluster_only(provider, "a shell in Airflow's components",
                 f"gcloud composer environments run {composer_where(provider)} SUBCOMMAND -- ARGS "
                 "(Airflow CLI commands only)")
    return _exec(provider, component, command or ["bash"], tty=sys.stdin.isatty())


def airflow(provider: Provider, component: str, args: list[str]) -> int:
    cluster_only(provider, "the Airflow CLI in Airflow's components", composer_run_command(provider, args))
    # Output is streamed (and masked) without a terminal, so it can be piped: `... -- dags list -o json | jq`.
    return _exec(provider, component, ["airflow", *args], tty=False)


# Groups gcloud refuses to run on Airflow 3 environments ("not supported for Composer environments with Airflow
# version 3", gcloud 528): Airflow's REST API serves them, with a Google access token.
REST_ONLY_GROUPS = ("connections", "variables", "pools")


def composer_run_command(provider: Provider, args: list[str]) -> str:
    """`airflow ARGS` as `gcloud composer environments run`: the sub-command (two words for a group such as
    `dags list`) before gcloud's `--`, its arguments after it. Connections, variables and pools: Airflow's REST
    API, as `up` writes them."""
    if args and args[0] in REST_ONLY_GROUPS:
        return (f"k8s/PROJECT/airflow.yaml and `up` for {args[0]}; to read them: curl -H \"Authorization: Bearer "
                f"$(gcloud auth print-access-token)\" AIRFLOW_URI/api/v2/{args[0]} (AIRFLOW_URI: gcloud composer "
                f"environments describe {composer_where(provider)} --format='value(config.airflowUri)')")
    words = 2 if args and args[0] in AIRFLOW_GROUPS else 1
    head, rest = args[:words], args[words:]
    return shlex.join(["gcloud", "composer", "environments", "run", *composer_where(provider).split(),
                       *(head or ["SUBCOMMAND"]), *(["--", *rest] if rest else [])])
