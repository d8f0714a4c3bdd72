"""Airflow DAG example1: a small ETL over data/example1/input/sales.csv -> output/summary.csv, one pod per step."""

from common.utils import project_dag, project_task

PROJECT = "example1"
ARGS = ["--run-id", "{{ run_id }}"]

with project_dag(PROJECT, "example1", output="output/summary.csv",
                 description="sales export -> revenue per month and region", tags=["example"]):
    extract = project_task(PROJECT, "extract", "example1/scripts/extract.py", args=ARGS)
    transform = project_task(PROJECT, "transform", "example1/scripts/transform.py", args=ARGS)
    load = project_task(PROJECT, "load", "example1/scripts/load.py",
                        args=[*ARGS, "--output", "{{ params.output }}"])
    extract >> transform >> load
