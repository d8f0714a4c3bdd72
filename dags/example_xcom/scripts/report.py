"""example-xcom report: the summary task's XCom, received as an argument, checked and written as the output."""

from __future__ import annotations

import argparse
import json
import os

from upath import UPath


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--summary", required=True, help="the summarize task's XCom, as JSON")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--output", default="output/report.json")
    args = parser.parse_args()
    try:
        summary = json.loads(args.summary)
    except ValueError:
        raise SystemExit(f"--summary: expected the summarize task's XCom as JSON, got {args.summary[:80]!r}") from None
    if not isinstance(summary, dict) or not summary:
        raise SystemExit(f"--summary: expected a non-empty object of sensor -> totals, got {args.summary[:80]!r}")
    readings = sum(int(s["count"]) for s in summary.values())
    busiest = max(summary, key=lambda sensor: summary[sensor]["mean"])
    report = {"run_id": args.run_id, "sensors": len(summary), "readings": readings,
              "highest_mean": {"sensor": busiest, "mean": summary[busiest]["mean"]}, "summary": summary}
    out = UPath(os.environ["DATA_ROOT"]) / args.output
    if out.protocol in ("", "file", "local"):
        out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, sort_keys=True) + "\n")
    print(f"ok: {readings} readings of {len(summary)} sensors; highest mean {busiest}; wrote {out}")


if __name__ == "__main__":
    main()
