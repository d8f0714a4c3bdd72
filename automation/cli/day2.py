"""Day-2 commands on a running target: logs (components and tasks), shell, airflow -- ARGS, restart, prune."""

from __future__ import annotations

import argparse

from automation.cli.args import positive_int, target_of
from automation.cli.registry import command
from automation.core.errors import UserError
from automation.core.runner import Runner, register_secret


def _logs_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("components", nargs="*", metavar="COMPONENT",
                   help="scheduler, api-server, dag-processor, triggerer, ... (default: all of them)")
    p.add_argument("-f", "--follow", action="store_true", help="keep streaming new lines (Ctrl-C ends)")
    p.add_argument("--tail", type=positive_int, default=100, help="last lines per container (default 100)")
    p.add_argument("--since", metavar="DURATION", help="only lines newer than this, e.g. 10m or 1h")
    p.add_argument("--all-containers", action="store_true", help="sidecars and init containers too")
    task = p.add_argument_group("a task's log instead (also after its pod is gone)")
    task.add_argument("--dag", metavar="DAG_ID", help="the task's DAG")
    task.add_argument("--task", metavar="TASK_ID", help="the task")
    task.add_argument("--run", metavar="RUN_ID", help="the DAG run (default: the latest)")
    task.add_argument("--try", dest="try_number", type=positive_int, metavar="N", help="the try (default: the last)")
    task.add_argument("--map-index", type=int, default=-1, help="a mapped task's index (default -1: not mapped)")
    task.add_argument("--from", dest="source", choices=("auto", "api", "volume"), default="auto",
                      help="the REST API, the logs claim, or the API falling back to the claim (default auto)")
    task.add_argument("--url", help="Airflow API URL (default: the port-forward of `nox -s up`, or a temporary one)")
    task.add_argument("--username", help="login user (default: the target's login.username)")
    task.add_argument("--password", help="login password (default: the target's login, or its Secret)")


@command("logs", "logs of Airflow's components (-f, all replicas), or of a task (--dag D --task T [--run R])",
         _logs_args)
def _logs(args: argparse.Namespace, runner: Runner) -> int:
    from automation.providers import provider_for

    task_options = (args.run, args.try_number, args.url, args.username, args.password)
    if args.dag or args.task:
        if not (args.dag and args.task):
            raise UserError("a task's log needs both --dag and --task", "pass --dag DAG_ID --task TASK_ID")
        if args.components:
            raise UserError(f"name components or a task, not both (got {' '.join(args.components)} and --dag)",
                            "drop the component names to read the task's log")
        if args.follow:
            raise UserError("-f follows components' logs, not a task's", "drop -f, or name a component")
        register_secret(args.password)
        from automation.day2.task_logs import ApiAccess, TaskLogRequest, task_log

        access = ApiAccess(url=args.url, username=args.username, password=args.password)
        request = TaskLogRequest(args.dag, args.task, args.run, args.try_number, args.map_index, args.source, access)
        return task_log(runner, provider_for(runner, target_of(args)), request)
    if any(option is not None for option in task_options):
        raise UserError("--run, --try, --url, --username and --password choose a task's log",
                        "add --dag DAG_ID --task TASK_ID")
    from automation.day2.component_logs import LogOptions, component_logs

    opts = LogOptions(follow=args.follow, tail=args.tail, since=args.since, all_containers=args.all_containers)
    return component_logs(provider_for(runner, target_of(args)), args.components, opts)


def _shell_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("component", nargs="?", default="scheduler", help="the component (default: scheduler)")
    # After `--` (so that our own options may still follow the component): `shell triggerer -- ls -la`.
    p.add_argument("cmd", nargs="*", metavar="-- COMMAND", help="run this instead of an interactive bash")


@command("shell", "an interactive shell (bash) in a component's container (default: the scheduler)", _shell_args)
def _shell(args: argparse.Namespace, runner: Runner) -> int:
    from automation.day2.exec import shell
    from automation.providers import provider_for

    return shell(provider_for(runner, target_of(args)), args.component, _after_dashes(args.cmd))


def _airflow_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--component", default="scheduler", help="run it in this component (default: scheduler)")
    # Everything after the first word that is not one of our options is Airflow's, `--` or not, so that
    # `nox -s airflow -- dags list -o json` works as typed.
    p.add_argument("args", nargs=argparse.REMAINDER, metavar="-- ARGS", help="the Airflow CLI's arguments")


@command("airflow", "any Airflow CLI command in the scheduler (`airflow -- dags list`); output streamed, its "
                    "exit code passed through", _airflow_args)
def _airflow(args: argparse.Namespace, runner: Runner) -> int:
    from automation.day2.exec import airflow
    from automation.providers import provider_for

    airflow_args = _after_dashes(args.args)
    if not airflow_args:
        raise UserError("no Airflow command given", "pass one after --, e.g. `airflow -- dags list`")
    return airflow(provider_for(runner, target_of(args)), args.component, airflow_args)


def _ui_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--port", type=positive_int, help="local port of the UI's port-forward (default: targets' ui.port)")
    p.add_argument("--no-browser", action="store_true", help="print the URL and the login only")


@command("ui", "Airflow's UI in your browser: the port-forward reused or started again, URL and login printed",
         _ui_args)
def _ui(args: argparse.Namespace, runner: Runner) -> None:
    from automation.day2.ui import ui
    from automation.providers import provider_for

    ui(provider_for(runner, target_of(args)), port=args.port, browser=not args.no_browser)


def _restart_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("components", nargs="*", metavar="COMPONENT", help="the components to roll (default: all)")
    p.add_argument("--timeout", type=positive_int, default=600, help="seconds to wait for each (default 600)")


@command("restart", "roll the components' pods and wait until ready; nothing else is touched", _restart_args)
def _restart(args: argparse.Namespace, runner: Runner) -> None:
    from automation.day2.restart import restart
    from automation.providers import provider_for

    restart(provider_for(runner, target_of(args)), args.components, args.timeout)


@command("prune", "delete the target's failed and never-started task pods (their logs and events stay in the task "
                  "logs); --dry-run lists them")
def _prune(args: argparse.Namespace, runner: Runner) -> None:
    from automation.day2.prune import prune
    from automation.providers import provider_for

    prune(provider_for(runner, target_of(args)))


def _after_dashes(words: list[str]) -> list[str]:
    """argparse keeps the `--` that separates our options from the command's."""
    return words[1:] if words[:1] == ["--"] else words
