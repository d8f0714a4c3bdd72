"""Airflow DAG example-xcom: one task's result handed to the next as an XCom (the provider's XCom sidecar)."""

from common.utils import project_dag, project_task

PROJECT = "example-xcom"

with project_dag(PROJECT, "example_xcom", output="output/report.json",
                 description="summarize readings, pass the summary as an XCom, report on it", tags=["example"]):
    summarize = project_task(PROJECT, "summarize", "example_xcom/scripts/summarize.py", xcom=True)
    # tojson: the XCom arrives as a dict; the script's argument is its JSON text.
    report = project_task(PROJECT, "report", "example_xcom/scripts/report.py",
                          args=["--summary", "{{ ti.xcom_pull(task_ids='summarize') | tojson }}",
                                "--run-id", "{{ run_id }}", "--output", "{{ params.output }}"])
    summarize >> report
