"""The dag-processor's parse time per DAG file in the cluster, with the libraries the DAG helpers need imported
once in its parent (helm/values.yaml `airflowLocalSettings`) and without (the alternative, same run), beside the
host's parse of the same files (the floor: a process that holds those imports, as `dag_parse.py` measures it);
and the time until the API lists every DAG after a cold `up`. Each DAG's parse time is read twice: its first parse,
while every component starts on the same cores, and its next one (the dag-processor parses every file again
after min_file_process_interval), the steady state a team pays. Medians of RUNS cold starts per variant. Also the
same files parsed by Airflow's own dag-processor on the host (`airflow dag-processor --num-runs 1`: the same
Airflow, the same pre-import, a SQLite database), RUNS times: what the dag-processor's own work per file costs
outside the cluster.

    nox -s benchmark -- dag_processor_parse --target ci [--projects 50] [--runs 3]
                                             [--reset-db 'bash .ci/postgres.sh --reset']

It DELETES the target's environment (`down --purge --yes`) before each start: use a test cluster. Targets:
parse time per file in the cluster <= 2x the host's; every DAG listed <= 15 s after `up` at 50 projects.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _timing import REPO, automation, from_nothing, up_login
from scale import dags_parsed, dags_reparsed
from synthetic_projects import EXAMPLES, SyntheticProjects

from automation.dags import gate as dagcheck

# The alternative: the chart's own empty airflow_local_settings.py (nothing imported before a parse forks).
WITHOUT = {"airflowLocalSettings": ""}


def host_dag_processor() -> list[float]:
    """Every DAG's own parse time when Airflow's dag-processor parses the DAG folder once on this machine, with the
    pre-import of helm/values.yaml (`airflowLocalSettings`, read from AIRFLOW_HOME/config as in the cluster)."""
    local_settings = yaml.safe_load((REPO / "helm" / "values.yaml").read_text())["airflowLocalSettings"]
    with tempfile.TemporaryDirectory(prefix="dag-processor-") as tmp:
        home = Path(tmp)
        (home / "config").mkdir()
        (home / "config" / "airflow_local_settings.py").write_text(local_settings)
        env = dagcheck.airflow_env(home, dagcheck.DAGS_FOLDER)
        for command in (["db", "migrate"], ["dag-processor", "--num-runs", "1"]):
            out = subprocess.run([sys.executable, "-m", "airflow", *command], env=env, cwd=home, capture_output=True,
                                 text=True)
            if out.returncode:
                sys.exit(f"airflow {' '.join(command)} failed: {out.stderr.strip()[-2000:]}")
        with sqlite3.connect(home / "airflow.db") as db:
            return [d for (d,) in db.execute("SELECT last_parse_duration FROM dag") if d is not None]


def cold_start(target: str, values: list[str], expected: int,
               reset_db: str) -> tuple[float, list[float], list[float]]:
    """Seconds from the end of a cold `up` until the API lists every DAG; each DAG's own parse time then (the first
    parse, while every component starts on the same cores), and in its next parse (the steady state)."""
    from_nothing(reset_db, "--target", target)
    out = subprocess.run([sys.executable, "-m", "automation", "up", "--target", target, "--skip-dags-check",
                          *values], cwd=REPO, capture_output=True, text=True)
    if out.returncode:
        sys.exit(f"up failed: {out.stderr.strip()}")
    url, user, password = up_login(out.stdout)
    t0 = time.monotonic()
    durations = dags_parsed(url, user, password, expected)
    waited = time.monotonic() - t0
    return waited, durations, dags_reparsed(url, user, password)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--dags-per-project", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reset-db", default="")
    args = parser.parse_args()
    if args.projects < len(EXAMPLES):
        sys.exit(f"--projects counts the {len(EXAMPLES)} example projects, so >= {len(EXAMPLES)}")
    with tempfile.TemporaryDirectory() as tmp, \
            SyntheticProjects(args.projects - len(EXAMPLES), args.dags_per_project, args.target) as made:
        without = Path(tmp) / "without-preimport.yaml"
        without.write_text(yaml.safe_dump(WITHOUT))
        settings = os.environ.get("AUTOMATION_SETTINGS", "")
        os.environ["AUTOMATION_SETTINGS"] = f"{settings}:{made.overlay}" if settings else str(made.overlay)
        expected = made.expected_dags
        host = [f.seconds for _ in range(args.runs) for f in dagcheck.parse().files]
        host_processor = [d for _ in range(args.runs) for d in host_dag_processor()]
        variants = {"pre-imported (helm/values.yaml)": [], "not pre-imported (chart default)":
                    ["--values", str(without)]}
        listed: dict[str, list[float]] = {name: [] for name in variants}
        parse: dict[str, list[float]] = {name: [] for name in variants}
        steady: dict[str, list[float]] = {name: [] for name in variants}
        try:
            for run in range(args.runs):
                for name, values in variants.items():
                    waited, durations, again = cold_start(args.target, values, expected, args.reset_db)
                    listed[name].append(waited)
                    parse[name] += durations
                    steady[name] += again
                    print(f"run {run + 1}, {name}: every DAG listed {waited:.2f}s after up, parse per file median "
                          f"{statistics.median(durations):.3f}s (first), {statistics.median(again):.3f}s (next)",
                          flush=True)
        finally:
            automation("down", "--purge", "--yes", "--target", args.target, check=False)
            subprocess.run(["git", "checkout", "--", "dags/common/images.json"], cwd=REPO, check=False)
    floor = statistics.median(host)
    processor = statistics.median(host_processor)
    print(f"\n{expected} DAG files ({args.projects} projects), medians of {args.runs} cold starts per variant; "
          f"host parse per file (the floor): {floor:.3f}s; the host's own dag-processor: {processor:.3f}s per "
          f"file ({len(host_processor)} parses)\n")
    print("| variant | first parse per file in the cluster (at `up`) | / host dag-processor | next parse per file "
          "(steady) | / host dag-processor | / host DagBag | every DAG listed after `up` |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in variants:
        first, again = statistics.median(parse[name]), statistics.median(steady[name])
        print(f"| {name} | {first:.3f}s | {first / processor:.1f}x | {again:.3f}s | {again / processor:.1f}x | "
              f"{again / floor:.0f}x | {statistics.median(listed[name]):.2f}s |")
    ours = next(iter(variants))
    print(f"targets: parse per file <= 2x the host's dag-processor: {statistics.median(steady[ours]) / processor:.1f}x "
          f"steady ({statistics.median(parse[ours]) / processor:.1f}x in the first parse at `up`); every DAG listed "
          f"<= 15 s: {statistics.median(listed[ours]):.2f}s")


if __name__ == "__main__":
    main()
