"""What an upgrade must keep, read before it through the old version and checked after it through the new one:
the DAG list, the log of the task that ended last (its pod long gone, the log on the logs claim), and every
connection decrypted with the Fernet key the release keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from automation.airflow.client import AirflowApi
from automation.core.errors import UserError
from automation.k8s.cluster import LiveCluster
from automation.k8s.ready import old_pods_gone

if TYPE_CHECKING:
    from automation.providers.base import Provider
    from automation.providers.cluster import Cluster

# Run in the scheduler: every connection's password and extra decrypted (a key that cannot decrypt them raises),
# only their number printed.
DECRYPT = """\
from sqlalchemy import select
from airflow.models.connection import Connection
from airflow.utils.session import create_session
with create_session() as session:
    found = session.scalars(select(Connection)).all()
    for connection in found:
        connection.password, connection.extra
    print(len(found))
"""


@dataclass(frozen=True)
class LastTask:
    dag_id: str
    run_id: str
    task_id: str
    try_number: int
    map_index: int

    @property
    def name(self) -> str:
        return f"{self.dag_id} {self.run_id} {self.task_id}"


@dataclass(frozen=True)
class Kept:
    """What the environment had before the upgrade."""

    dags: frozenset[str]
    last_task: LastTask | None


def read_kept(api: AirflowApi) -> Kept:
    last = api.last_finished_task()
    task = LastTask(last["dag_id"], last["dag_run_id"], last["task_id"], int(last.get("try_number") or 1),
                    int(last.get("map_index", -1))) if last else None
    return Kept(frozenset(api.every_dag_id()), task)


def missing_dags(kept: Kept, now: list[str]) -> list[str]:
    return sorted(kept.dags - set(now))


def check_api(api: AirflowApi, kept: Kept) -> str:
    """The DAG list and the last task's log, through the new version: what was checked, else a UserError."""
    now = api.every_dag_id()
    if gone := missing_dags(kept, now):
        raise UserError(f"after the upgrade the API lists {len(now)} DAGs; {len(gone)} listed before are missing: "
                        f"{', '.join(gone[:5])}{' ...' if len(gone) > 5 else ''}")
    checked = f"{len(now)} DAGs listed as before"
    if kept.last_task is not None:
        task = kept.last_task
        log = api.task_log(task.dag_id, task.run_id, task.task_id, task.try_number, task.map_index)
        if not log or (len(log) == 1 and log[0].startswith("(no log")):
            raise UserError(f"after the upgrade the log of {task.name} (try {task.try_number}) cannot be read: "
                            f"{(log or ['empty'])[0]}")
        checked += f", the log of {task.name} read ({len(log)} lines)"
    return checked


def decrypted_connections(provider: Provider, cluster: Cluster, state: LiveCluster) -> int:
    """How many connections the scheduler decrypts with the release's Fernet key, else a UserError."""
    target = provider.target
    # Mid-rollout `kubectl exec deploy/...` may pick a pod being replaced, killed together with the command.
    old_pods_gone(provider.runner, state, target, "scheduler")
    result = provider.runner.read(
        [*cluster.kubectl(target.namespace), "exec", f"deploy/{target.release}-scheduler", "-c", "scheduler",
         "--", "python", "-c", DECRYPT], check=False, timeout=180)
    # Airflow may log to stdout while it starts: the count is the last line.
    count = (result.stdout.strip().splitlines() or [""])[-1]
    if not result.ok or not count.isdigit():
        # The exception's own line, not kubectl's "command terminated with exit code 1" after it.
        lines = [line for line in (result.stderr or result.stdout).strip().splitlines()
                 if line.strip() and not line.startswith("command terminated with exit code")]
        why = lines[-1] if lines else f"exit code {result.exit_code}"
        raise UserError(f"after the upgrade the scheduler cannot decrypt the connections: {why[:300]}")
    return int(count)
