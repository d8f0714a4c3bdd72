"""What both example-db tasks share: the engine from the Secret's DATABASE_URL, the table and the rows."""

from __future__ import annotations

import os
import re

import sqlalchemy as sa


def engine() -> sa.Engine:
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("DATABASE_URL is not set: add it to k8s/example-db/secret.env (see secret.env.example)")
    return sa.create_engine(url, pool_pre_ping=True)


def table() -> sa.Table:
    name = os.environ.get("TABLE_NAME", "example_db_readings")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        raise SystemExit(f"TABLE_NAME {name!r}: expected a lower-case SQL identifier")
    return sa.Table(name, sa.MetaData(),
                    sa.Column("run_id", sa.String(250), primary_key=True),
                    sa.Column("seq", sa.Integer, primary_key=True),
                    sa.Column("sensor", sa.String(50), nullable=False),
                    sa.Column("value", sa.Float, nullable=False))


def expected_rows(run_id: str, count: int) -> list[dict]:
    """Deterministic rows, so the reader can check exactly what the writer wrote."""
    return [{"run_id": run_id, "seq": i, "sensor": f"sensor-{i % 4}", "value": round(i * 1.5 + 20, 2)}
            for i in range(count)]


def row_count() -> int:
    return int(os.environ.get("ROW_COUNT", "20"))
