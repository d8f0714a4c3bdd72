"""`upgrade-check` time for the example DAGs, warm cache (the new release's environment made once before), median
of RUNS runs; against its floors, measured in the same run: a bare `import airflow` in the new environment, and
the project's DAG gate parsing every DAG and building every pod under each release (what the check does twice).

    python benchmarks/upgrade_check.py [--from 3.2.0] [--to 3.3.2] [--runs 3]

--from (default: the previous pin) is the release the DAGs run on now, --to (default: the pin) the one checked.

The check costs little above its floor when the two parses run side by side: the rest is ruff and the schema.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from _timing import automation, report  # noqa: E402

from automation.core.paths import STATE_ROOT  # noqa: E402
from automation.core.versions import VERSIONS  # noqa: E402
from automation.dags import gate  # noqa: E402

CHART = Path(os.environ.get("AIRFLOW_CHART_DIR", REPO.parent / "shared/airflow-chart/chart"))


def bare_import(python: Path) -> float:
    with tempfile.TemporaryDirectory() as home:
        t0 = time.monotonic()
        subprocess.run([str(python), "-c", "import airflow"], env=gate.airflow_env(Path(home), gate.DAGS_FOLDER),
                       capture_output=True, check=True)
        return time.monotonic() - t0


def gate_parse(python: Path | None) -> float:
    t0 = time.monotonic()
    gate.parse(gate.DAGS_FOLDER, pods=True, python=python)
    return time.monotonic() - t0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--from", dest="start", default=VERSIONS.airflow_previous)
    parser.add_argument("--to", default=VERSIONS.airflow)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = {"AIRFLOW_CHART_DIR": str(CHART)} if CHART.is_dir() else {}
    command = ("upgrade-check", "--from", args.start, "--to", args.to)
    warm = automation(*command, env=env)  # makes or reuses both environments
    print(f"upgrade-check --from {args.start} --to {args.to}, first run (environments made or reused): {warm:.2f}s",
          flush=True)
    python = STATE_ROOT / "upgrade-check" / args.to / "venv" / "bin" / "python"
    before = STATE_ROOT / "upgrade-check" / args.start / "venv" / "bin" / "python"
    runs = range(max(args.runs, 1))
    check = report(f"upgrade-check --from {args.start} --to {args.to} (example DAGs, warm)",
                   [automation(*command, env=env) for _ in runs])
    report(f"  floor: python -c 'import airflow' in the {args.to} environment", [bare_import(python) for _ in runs])
    current = report(f"  the DAG gate with pods under {args.start}", [gate_parse(before) for _ in runs])
    new = report(f"  the DAG gate with pods under {args.to}", [gate_parse(python) for _ in runs])
    print(f"  the check over its two parses run one after the other: {check / (current + new):.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
