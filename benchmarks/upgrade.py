"""An in-place upgrade of a running environment against a fresh `up` of the new version, in one run.

    python benchmarks/upgrade.py --target ci --to 3.3.1 [--runs 3] [--reset-db 'CMD'] [--settings FILE ...]

Each run: from nothing, `up` at the target's own (pinned) Airflow and example1 once (an environment with a
history), then `up` at --to (backup, Helm upgrade with the migration, every component Ready again): timed. Then
from nothing again, `up` at --to: timed. The upgrade's floor is the fresh `up` of the same version: what it adds
is the backup, the migration and the restart of what ran.

It DELETES the target's environment (`down --purge --yes`): use a test cluster. The image of --to must be where
the target's cluster pulls from (CI: imported for the Composer rehearsal).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml
from _timing import automation, from_nothing, report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--to", required=True, help="the Airflow version to upgrade to")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reset-db", default="", help="command that recreates an external metadata DB")
    parser.add_argument("--settings", action="append", default=[], help="settings files (repeated)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        overlay = Path(folder) / "to.yaml"
        overlay.write_text(yaml.safe_dump({"targets": {args.target: {"airflow_version": args.to}}}))
        base = ["--target", args.target, *(part for s in args.settings for part in ("--settings", s))]
        newer = [*base, "--settings", str(overlay)]

        def fresh() -> None:
            from_nothing(args.reset_db, *base)

        upgrade: list[float] = []
        fresh_up: list[float] = []
        for _ in range(args.runs):
            fresh()
            automation("up", *base)
            automation("e2e", "--dag", "example1", *base)
            upgrade.append(automation("up", *newer, "--skip-dags-check"))
            fresh()
            fresh_up.append(automation("up", *newer, "--skip-dags-check"))
        fresh()
        upgraded = report(f"in-place upgrade to Airflow {args.to} (backup, migration, Ready)", upgrade)
        floor = report(f"fresh up of Airflow {args.to} (the floor)", fresh_up)
        print(f"ratio upgrade / fresh up: {upgraded / floor:.2f}")


if __name__ == "__main__":
    main()
