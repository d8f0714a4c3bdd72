"""example-db write: (re)write this run's rows, in one transaction."""

from __future__ import annotations

import argparse

from db_io import engine, expected_rows, row_count, table


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args()
    rows = table()
    data = expected_rows(args.run_id, row_count())
    eng = engine()
    rows.metadata.create_all(eng)
    # A retried task replaces its rows instead of failing on duplicates.
    with eng.begin() as conn:
        conn.execute(rows.delete().where(rows.c.run_id == args.run_id))
        conn.execute(rows.insert(), data)
    print(f"wrote {len(data)} rows to {rows.name} for run {args.run_id}")


if __name__ == "__main__":
    main()
