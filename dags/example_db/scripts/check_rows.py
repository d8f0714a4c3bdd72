"""example-db check: read this run's rows back, compare them with what was written, record the result."""

from __future__ import annotations

import argparse
import json
import os

from db_io import engine, expected_rows, row_count, table
from upath import UPath


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--output", default="output/check.json")
    args = parser.parse_args()
    rows = table()
    with engine().connect() as conn:
        found = [dict(r._mapping) for r in conn.execute(
            rows.select().where(rows.c.run_id == args.run_id).order_by(rows.c.seq))]
    expected = expected_rows(args.run_id, row_count())
    if found != expected:
        raise SystemExit(f"{rows.name}: read {len(found)} rows for run {args.run_id}, expected {len(expected)} "
                         "identical to those written")
    result = {"run_id": args.run_id, "table": rows.name, "rows": len(found),
              "value_sum": round(sum(r["value"] for r in found), 2)}
    out = UPath(os.environ["DATA_ROOT"]) / args.output
    if out.protocol in ("", "file", "local"):
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"ok: {len(found)} rows match; wrote {out}")


if __name__ == "__main__":
    main()
