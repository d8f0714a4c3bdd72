"""An in-place upgrade of a running environment against a fresh `up` of the new version, in one run.

    python benchmarks/upgrade.py --target ci [--from 3.2.0] [--to 3.3.2] [--runs 3] [--reset-db 'CMD']
                                 [--settings FILE ...]

Each run: from nothing, `up` at --from (default: the previous pin) and example1 once (an environment with a
history), then `up` at --to (default: the pin; backup, Helm upgrade with the migration, every component Ready
again): timed. Then from nothing again, `up` at --to: timed. The upgrade's floor is the fresh `up` of the same
version: what it adds is the backup, the migration and the restart of what ran.

It DELETES the target's environment (`down --purge --yes`): use a test cluster. The images of both versions must
be where the target's cluster pulls from (CI builds both).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml
from _timing import automation, from_nothing, report

from automation.core.versions import VERSIONS


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", required=True)
    parser.add_argument("--from", dest="start", default=VERSIONS.airflow_previous,
                        help="the Airflow version the environment starts at (default: the previous pin)")
    parser.add_argument("--to", default=VERSIONS.airflow, help="the Airflow version to upgrade to (default: the pin)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--reset-db", default="", help="command that recreates an external metadata DB")
    parser.add_argument("--settings", action="append", default=[], help="settings files (repeated)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        def at(version: str) -> list[str]:
            overlay = Path(folder) / f"{version}.yaml"
            overlay.write_text(yaml.safe_dump({"targets": {args.target: {"airflow_version": version}}}))
            return [*base, "--settings", str(overlay)]

        base = ["--target", args.target, *(part for s in args.settings for part in ("--settings", s))]
        older, newer = at(args.start), at(args.to)

        def fresh() -> None:
            from_nothing(args.reset_db, *base)

        upgrade: list[float] = []
        fresh_up: list[float] = []
        for _ in range(args.runs):
            fresh()
            automation("up", *older)
            automation("e2e", "--dag", "example1", *older)
            upgrade.append(automation("up", *newer, "--skip-dags-check"))
            fresh()
            fresh_up.append(automation("up", *newer, "--skip-dags-check"))
        fresh()
        upgraded = report(f"in-place upgrade Airflow {args.start} -> {args.to} (backup, migration, Ready)", upgrade)
        floor = report(f"fresh up of Airflow {args.to} (the floor)", fresh_up)
        print(f"ratio upgrade / fresh up: {upgraded / floor:.2f}")


if __name__ == "__main__":
    main()
