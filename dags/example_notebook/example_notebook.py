"""Airflow DAG example-notebook: a parameterized notebook run by papermill in the notebook image."""

from common.utils import project_dag, project_task

PROJECT = "example-notebook"

with project_dag(PROJECT, "example_notebook", output="output/report.ipynb",
                 description="temperature report notebook (papermill)", tags=["example"]):
    project_task(PROJECT, "report", "example_notebook/scripts/run_notebook.py", image="notebook",
                 args=["--notebook", "notebooks/report.ipynb", "--output", "{{ params.output }}",
                       "-p", "min_rows", "10"],
                 resources={"limits": {"memory": "2Gi"}})
