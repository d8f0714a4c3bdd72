"""example1 transform: revenue per month and region."""

from __future__ import annotations

import argparse

from datafiles import read_csv, run_folder, write_csv


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-id", required=True)
    args = parser.parse_args()
    work = run_folder(args.run_id)
    df = read_csv(work / "extracted.csv", parse_dates=["order_date"])
    df["month"] = df["order_date"].dt.strftime("%Y-%m")
    df["revenue"] = df["quantity"] * df["unit_price"]
    summary = (df.groupby(["month", "region"], as_index=False)
                 .agg(orders=("order_id", "count"), units=("quantity", "sum"), revenue=("revenue", "sum")))
    summary["revenue"] = summary["revenue"].round(2)
    write_csv(summary, work / "transformed.csv")


if __name__ == "__main__":
    main()
