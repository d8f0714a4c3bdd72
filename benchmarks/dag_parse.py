"""DAG parse cost: median parse time per DAG file with the real DagBag (target <= 0.3 s/file) and the import
cost of `common.utils` in a fresh interpreter (target <= 50 ms), medians of RUNS runs.

    python benchmarks/dag_parse.py [--runs 5]

Each DagBag run is a fresh process (nothing cached between runs) that first loads the imports every DAG file
shares (airflow.sdk, the KubernetesPodOperator): the DAG processor holds those once, so a file's time is its
own work.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from automation.dags import gate as dagcheck  # noqa: E402

IMPORT_CODE = "import time; t = time.perf_counter(); import common.utils; print(time.perf_counter() - t)"


def import_cost(runs: int) -> list[float]:
    times = []
    with tempfile.TemporaryDirectory() as home:
        env = dagcheck.airflow_env(Path(home), dagcheck.DAGS_FOLDER)
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", IMPORT_CODE], cwd=dagcheck.DAGS_FOLDER, env=env,
                                 capture_output=True, text=True, check=True).stdout
            times.append(float(out.strip()))
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    runs = max(args.runs, 5)
    per_file: dict[str, list[float]] = {}
    warmups = []
    for _ in range(runs):
        report = dagcheck.parse()
        warmups.append(report.warmup_seconds)
        for f in report.files:
            per_file.setdefault(f.file, []).append(f.seconds)
    print(f"DAG parse time, median of {runs} runs (target <= 0.3 s/file):")
    worst = 0.0
    for file, times in sorted(per_file.items()):
        median = statistics.median(times)
        worst = max(worst, median)
        print(f"  {median:7.3f}s  {file}  (min {min(times):.3f}s, max {max(times):.3f}s)")
    print(f"  shared imports once per process: median {statistics.median(warmups):.2f}s")
    imports = import_cost(runs)
    median_import = statistics.median(imports) * 1000
    print(f"import common.utils in a fresh interpreter: median {median_import:.1f} ms of {runs} runs "
          f"(target <= 50 ms)")
    ok = worst <= 0.3 and median_import <= 50
    print("targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
