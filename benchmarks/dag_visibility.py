"""How soon a DAG file written in dags/ is in Airflow's API, and how soon an edit of it is (medians):

    nox -s benchmark -- dag_visibility --target ci [--runs 3] [--compare 30]

A new file is found when the DAG processor lists the folder ([dag_processor] refresh_interval: 5 s on local
targets, helm/values-local.yaml); an edit is parsed first because it is newer than its last parse, and its new
tasks reach the API when its serialized form may be written again ([core] min_serialized_dag_update_interval:
2 s there, 30 s by default). With `--compare SECONDS`, both intervals are set to SECONDS on the DAG processor
(its environment, restarted), then the target's own settings are put back: the alternative in the same run.
Needs a target that is up (`nox -s up`). Target: both at most 5 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from automation.airflow.client import AirflowApi  # noqa: E402
from automation.core.runner import Runner  # noqa: E402
from automation.providers import provider_for  # noqa: E402
from automation.providers.airflow_endpoint import endpoint, temporary_forward  # noqa: E402
from automation.settings import Target, load_target  # noqa: E402

DAG = '''"""Written by benchmarks/dag_visibility.py, removed when it ends."""
from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG("{dag_id}", description="{description}", start_date=datetime(2026, 1, 1), schedule=None, catchup=False,
         tags=["benchmark"]):
{tasks}
'''
TIMEOUT = 400


def _write(path: Path, dag_id: str, tasks: list[str]) -> None:
    body = "\n".join(f'    EmptyOperator(task_id="{t}")' for t in tasks)
    staged = path.with_suffix(".tmp")
    staged.write_text(DAG.format(dag_id=dag_id, description=f"{len(tasks)} tasks", tasks=body))
    staged.replace(path)  # whole, at once: the processor never reads half a file


def _until(what: str, check: object) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < TIMEOUT:
        if check():  # type: ignore[operator]
            return time.monotonic() - t0
        time.sleep(0.25)
    sys.exit(f"{what}: not seen within {TIMEOUT}s")


def measure(api: AirflowApi, runs: int) -> tuple[list[float], list[float]]:
    new, edit = [], []
    for _ in range(runs):
        dag_id = f"zz_visibility_{uuid.uuid4().hex[:8]}"
        path = REPO / "dags" / f"{dag_id}.py"
        try:
            _write(path, dag_id, ["first"])
            new.append(_until("new DAG file", lambda: api.dag(dag_id) is not None))  # noqa: B023
            time.sleep(1)  # an edit is a later write than the parse that found the file
            _write(path, dag_id, ["first", "second"])
            # The edit counts when the API serves the new structure (the UI's graph), not only the new description.
            edit.append(_until("edited DAG's tasks", lambda: "second" in api.task_ids(dag_id)))  # noqa: B023
            print(f"  {dag_id}: new file {new[-1]:.1f}s, edit {edit[-1]:.1f}s", flush=True)
        finally:
            path.unlink(missing_ok=True)
            api.request("DELETE", f"/api/v2/dags/{dag_id}", ok=(200, 204, 404, 409))
    return new, edit


def set_refresh_interval(target: Target, seconds: int | None) -> None:
    """Both intervals on the DAG processor through its environment (None: back to what the chart set)."""
    cluster = provider_for(Runner(out=open("/dev/null", "w")), target).cluster  # noqa: SIM115
    assert cluster is not None, f"target {target.name} has no cluster this machine reaches"
    args = ["kubectl", *cluster.kubectl_args(), "-n", target.namespace]
    deployment = f"deployment/{target.release}-dag-processor"
    names = ("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL")
    values = [f"{name}={seconds}" if seconds else f"{name}-" for name in names]
    subprocess.run([*args, "set", "env", deployment, *values], check=True, capture_output=True)
    subprocess.run([*args, "rollout", "status", deployment, "--timeout=600s"], check=True, capture_output=True)
    time.sleep(10)  # the new processor's first listing and parse of the folder


def report(name: str, values: list[float]) -> float:
    m = statistics.median(values)
    print(f"{name}: median {m:.1f}s of {[round(v, 1) for v in values]} (target <= 5 s: "
          f"{'ok' if m <= 5 else 'above target'})", flush=True)
    return m


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--compare", type=int, default=None, help="also measure with this refresh_interval")
    args = parser.parse_args()
    target = load_target(args.target)
    runner = Runner(out=open("/dev/null", "w"))  # noqa: SIM115  (quiet for the whole run)
    provider = provider_for(runner, target)
    with temporary_forward(runner, provider) as url:
        api = endpoint(provider, url).connect()
        print(f"target {target.name}: {args.runs} runs", flush=True)
        new, edit = measure(api, args.runs)
        report("new DAG file in the API", new)
        report("edited DAG file in the API", edit)
        if args.compare:
            set_refresh_interval(target, args.compare)
            try:
                api = endpoint(provider, url).connect()
                new, edit = measure(api, args.runs)
                report(f"new DAG file, both intervals {args.compare}s", new)
                report(f"edited DAG file, both intervals {args.compare}s", edit)
            finally:
                set_refresh_interval(target, None)


if __name__ == "__main__":
    main()
