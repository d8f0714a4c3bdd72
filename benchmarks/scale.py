"""How every command's cost grows with the number of projects: N = 4, 10, 50 projects (the 4 examples plus
synthetic ones, M DAG files of 3 tasks each), on a real cluster, one table with the growth factor per step
(time at the largest N / time at the smallest).

    python benchmarks/scale.py --target ci [--sizes 4,10,50] [--dags-per-project 4] [--runs 3]
                               [--reset-db 'bash .ci/postgres.sh --reset']

It DELETES the target's environment (`down --purge --yes`) before each size: use a test cluster. Each size is
checked, not assumed: every project's ConfigMap and Secret in the cluster holds exactly its files' values, and
Airflow's API lists every DAG. Targets: no-op up at 50 <= 2x at 3; the DAG gate at 200 files <= 10 s (measured
before `up` deploys Airflow, as `up` runs it).
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from _timing import REPO, automation, from_nothing, up_login
from synthetic_projects import EXAMPLES, SyntheticProjects

from automation.core.runner import Runner
from automation.k8s.cluster import LiveCluster
from automation.providers import provider_for
from automation.settings import load_target

STEPS = ["cold up", "DAGs listed after up", "no-op up", "up, one config changed", "status", "render",
         "DAG gate alone", "dags (gate + parity, no server)", "dags (with server dry run)",
         "dag-processor parse (sum)", "dag-processor parse per file (median)"]
GATE_ALONE = "from automation.core.runner import Runner; from automation.dags.gate import gate; gate(Runner())"


def gate_alone(env: dict[str, str]) -> float:
    """The integrity gate on its own (Airflow's DagBag over every file, in a fresh process)."""
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", GATE_ALONE], cwd=REPO, check=True, capture_output=True,
                   env={**os.environ, **env})
    return time.monotonic() - t0


def median_of(runs: int, *args: str, env: dict[str, str]) -> float:
    return statistics.median(automation(*args, env=env) for _ in range(runs))


def verify_objects(target_name: str) -> int:
    """Every project's ConfigMap and Secret on the cluster holds exactly the values of its files."""
    provider = provider_for(Runner(), load_target(target_name))
    state = provider.state()
    assert isinstance(state, LiveCluster), "cluster not reachable"
    checked = 0
    for obj in provider.project_objects():
        kind = type(obj).__name__
        live = state.get(kind, obj.name, obj.namespace)
        if live is None:
            sys.exit(f"check failed: {kind}/{obj.name} missing after up")
        data = live.get("data") or {}
        if kind == "Secret":
            data = {k: base64.b64decode(v).decode() for k, v in data.items()}
        if data != obj.data:
            sys.exit(f"check failed: {kind}/{obj.name} holds {sorted(data)} != files' {sorted(obj.data)}")
        checked += 1
    return checked


def dag_pages(url: str, user: str, password: str) -> Iterator[dict[str, Any]]:
    """The API's list of DAGs, read again each time the caller asks for the next one."""
    token = httpx.post(f"{url}/auth/token", json={"username": user, "password": password}, timeout=30)
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    while True:
        yield httpx.get(f"{url}/api/v2/dags", params={"limit": 1000}, headers=headers, timeout=30).json()


def dags_parsed(url: str, user: str, password: str, expected: int, timeout: float = 900) -> list[float]:
    """Waits until the API lists `expected` DAGs; each one's last parse duration (the dag-processor's own)."""
    t0 = time.monotonic()
    for page in dag_pages(url, user, password):
        if page.get("total_entries", 0) >= expected:
            return [float(d.get("last_parse_duration") or 0) for d in page.get("dags", [])]
        if time.monotonic() - t0 > timeout:
            sys.exit(f"check failed: {page.get('total_entries')} DAGs listed after {timeout:.0f}s, "
                     f"expected {expected}")
        time.sleep(1)
    raise AssertionError("unreachable")


def dags_reparsed(url: str, user: str, password: str, timeout: float = 900) -> list[float]:
    """Each DAG's parse duration in its next parse after this call: the dag-processor's steady state, once the
    components that started with it have settled (it parses every file again after min_file_process_interval)."""
    since = datetime.now(UTC)
    t0 = time.monotonic()
    for page in dag_pages(url, user, password):
        dags = page.get("dags", [])
        parsed = [datetime.fromisoformat(d["last_parsed_time"]) for d in dags if d.get("last_parsed_time")]
        if dags and len(parsed) == len(dags) and min(parsed) > since:
            return [float(d.get("last_parse_duration") or 0) for d in dags]
        if time.monotonic() - t0 > timeout:
            sys.exit(f"check failed: not every DAG parsed again within {timeout:.0f}s")
        time.sleep(2)
    raise AssertionError("unreachable")


def dags_listed(url: str, user: str, password: str, expected: int) -> tuple[float, list[float]]:
    """Seconds until the API lists `expected` DAGs; their last parse durations."""
    t0 = time.monotonic()
    durations = dags_parsed(url, user, password, expected)
    return time.monotonic() - t0, durations


def measure(size: int, args: argparse.Namespace) -> dict[str, float]:
    figures: dict[str, float] = {}
    t = ["--target", args.target]
    with SyntheticProjects(size - len(EXAMPLES), args.dags_per_project, args.target) as made:
        settings = os.environ.get("AUTOMATION_SETTINGS", "")
        env = {"AUTOMATION_SETTINGS": f"{settings}:{made.overlay}" if settings else str(made.overlay)}
        os.environ.update(env)
        try:
            from_nothing(args.reset_db, *t, env=env)
            # The DAG checks as `up` runs them, before Airflow is deployed (a running dag-processor re-parses
            # every file and competes for the same 2 cores).
            figures["DAG gate alone"] = statistics.median(gate_alone(env) for _ in range(args.runs))
            figures["dags (gate + parity, no server)"] = median_of(args.runs, "dags", *t, "--no-server", env=env)
            t0 = time.monotonic()
            out = subprocess.run([sys.executable, "-m", "automation", "up", *t], cwd=REPO, capture_output=True,
                                 text=True, env={**os.environ, **env})
            figures["cold up"] = time.monotonic() - t0
            if out.returncode:
                sys.exit(f"cold up failed at N={size}: {out.stderr.strip()}")
            url, user, password = up_login(out.stdout)
            expected_dags = made.expected_dags
            figures["DAGs listed after up"], durations = dags_listed(url, user, password, expected_dags)
            figures["dag-processor parse (sum)"] = sum(durations)
            figures["dag-processor parse per file (median)"] = statistics.median(durations)
            figures["no-op up"] = median_of(args.runs, "up", *t, env=env)
            changed = made.names[0] if made.names else None
            if changed:
                made.touch_config(changed)
                figures["up, one config changed"] = automation("up", *t, env=env)
            checked = verify_objects(args.target)
            figures["status"] = median_of(args.runs, "status", *t, env=env)
            with tempfile.TemporaryDirectory() as out_dir:
                figures["render"] = median_of(args.runs, "render", *t, "--out", out_dir, env=env)
            figures["dags (with server dry run)"] = automation("dags", *t, env=env)
            print(f"N={size}: {len(made.projects)} projects, {expected_dags} DAG files, {checked} project objects "
                  "checked on the cluster, every DAG listed by the API", flush=True)
        finally:
            for key in env:
                os.environ.pop(key, None)
            if settings:
                os.environ["AUTOMATION_SETTINGS"] = settings
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--sizes", default="4,10,50")
    parser.add_argument("--dags-per-project", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reset-db", default="")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if min(sizes) < len(EXAMPLES):
        sys.exit(f"--sizes: each size counts the {len(EXAMPLES)} example projects, so >= {len(EXAMPLES)}")
    table: dict[int, dict[str, float]] = {}
    try:
        for size in sizes:
            table[size] = measure(size, args)
    finally:
        automation("down", "--purge", "--yes", "--target", args.target, check=False)
        subprocess.run(["git", "checkout", "--", "dags/common/images.json"], cwd=REPO, check=False)
    print(f"\n| step (seconds) | {' | '.join(f'N={s}' for s in sizes)} | growth {sizes[-1]}/{sizes[0]} |")
    print(f"| --- | {' | '.join('---' for _ in sizes)} | --- |")
    for step in STEPS:
        row = [table[s].get(step) for s in sizes]
        first, last = row[0], row[-1]
        growth = f"{last / first:.2f}x" if first and last else "-"
        digits = 3 if "per file" in step else 2
        print(f"| {step} | {' | '.join('-' if v is None else f'{v:.{digits}f}' for v in row)} | {growth} |")
    if sizes[0] == len(EXAMPLES) and Path(REPO / "dags").is_dir():
        noop = [table[s]["no-op up"] for s in sizes]
        print(f"no-op up at {sizes[-1]} / at {sizes[0]}: {noop[-1] / noop[0]:.2f} (target <= 2)")


if __name__ == "__main__":
    main()
