"""Airflow DAG example-db: write rows to PostgreSQL (airflow_test), read them back and check them."""

from common.utils import project_dag, project_task

PROJECT = "example-db"
ARGS = ["--run-id", "{{ run_id }}"]

with project_dag(PROJECT, "example_db", output="output/check.json",
                 description="write rows to airflow_test, read them back", tags=["example"]):
    write = project_task(PROJECT, "write_rows", "example_db/scripts/write_rows.py", args=ARGS)
    check = project_task(PROJECT, "check_rows", "example_db/scripts/check_rows.py",
                         args=[*ARGS, "--output", "{{ params.output }}"])
    write >> check
