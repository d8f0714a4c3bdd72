"""example1 load: publish the summary where the DAG's "output" param says, and clean the run's work files."""

from __future__ import annotations

import argparse
import os

from datafiles import read_csv, root, run_folder, write_csv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--output", default=os.environ.get("OUTPUT_FILE", "output/summary.csv"))
    args = parser.parse_args()
    work = run_folder(args.run_id)
    summary = read_csv(work / "transformed.csv").sort_values(["month", "region"])
    if summary.empty:
        raise SystemExit("transform produced no rows: nothing to publish")
    write_csv(summary, root() / args.output)
    for name in ("extracted.csv", "transformed.csv"):
        (work / name).unlink(missing_ok=True)
    if work.protocol in ("", "file", "local"):
        work.rmdir()  # object stores drop a "folder" with its last object


if __name__ == "__main__":
    main()
