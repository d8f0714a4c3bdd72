"""example1 extract: read the raw sales export, keep the valid rows once each."""

from __future__ import annotations

import argparse
import os

from datafiles import read_csv, root, run_folder, write_csv

COLUMNS = ["order_id", "order_date", "region", "product", "quantity", "unit_price"]


def pod_facts() -> str:
    """What this pod was given, without any value: the contract the DAG helpers promise, visible in the log."""
    dags = "/opt/airflow/dags"
    mode = "absent" if not os.path.isdir(dags) else "read-write" if os.access(dags, os.W_OK) else "read-only"
    config = "set" if "INPUT_FILE" in os.environ else "missing"
    secret = "set" if os.environ.get("API_TOKEN") else "missing"
    return f"pod facts: dags {mode}; config INPUT_FILE {config}; secret API_TOKEN {secret}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args()
    print(pod_facts())
    source = root() / os.environ.get("INPUT_FILE", "input/sales.csv")
    df = read_csv(source, dtype={"order_id": "Int64"})
    missing = sorted(set(COLUMNS) - set(df.columns))
    if missing:
        raise SystemExit(f"{source}: missing columns {missing}")
    valid = df[COLUMNS].dropna().drop_duplicates(subset="order_id", keep="first")
    valid = valid.astype({"order_id": "int64", "quantity": "int64"})  # NaN made them floats
    print(f"{source}: {len(df)} rows, {len(df) - len(valid)} dropped (incomplete or duplicate)")
    write_csv(valid, run_folder(args.run_id) / "extracted.csv")


if __name__ == "__main__":
    main()
