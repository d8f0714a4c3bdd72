"""example-xcom summarize: count, total and mean of the readings per sensor, returned as the task's XCom."""

from __future__ import annotations

import csv
import io
import os

from upath import UPath
from xcom_return import write_xcom


def summarize(text: str) -> dict[str, dict[str, float]]:
    per_sensor: dict[str, list[float]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        per_sensor.setdefault(row["sensor"], []).append(float(row["reading"]))
    return {sensor: {"count": len(values), "total": round(sum(values), 3), "mean": round(sum(values) / len(values), 3)}
            for sensor, values in sorted(per_sensor.items())}


def main() -> None:
    source = UPath(os.environ["DATA_ROOT"]) / os.environ.get("INPUT_FILE", "input/readings.csv")
    summary = summarize(source.read_text())
    if not summary:
        raise SystemExit(f"{source}: no readings")
    path = write_xcom(summary)
    print(f"ok: {len(summary)} sensors summarized; XCom written to {path}")


if __name__ == "__main__":
    main()
