"""Airflow's migration rules (ruff's AIR rules, the pinned ruff) over a DAG folder: what fails on Airflow 3 is a
blocker, a suggestion a warning, each named by file and line."""

from __future__ import annotations

import io
from pathlib import Path

from automation.core.runner import Runner
from automation.upgrade import rules

AIR301_DAG = '''"""Airflow DAG reading a context key Airflow 3 removed."""
from airflow.sdk import DAG, task

with DAG("old_context", schedule=None):

    @task
    def when(**context):
        return context["execution_date"]

    when()
'''
AIR002_DAG = '''"""Airflow DAG without a schedule argument."""
from airflow.sdk import DAG

with DAG("no_schedule"):
    pass
'''


def test_a_removed_context_key_blocks_and_a_missing_schedule_warns(tmp_path: Path) -> None:
    (tmp_path / "old_context.py").write_text(AIR301_DAG)
    (tmp_path / "no_schedule.py").write_text(AIR002_DAG)
    found = rules.check(Runner(out=io.StringIO()), tmp_path)
    assert [(v.code, v.file, v.line, v.blocker) for v in found] == [
        ("AIR301", "old_context.py", 8, True), ("AIR002", "no_schedule.py", 4, False)]
    assert "execution_date" in found[0].message


def test_the_repository_dags_break_no_rule() -> None:
    from automation.core.paths import DAGS_FOLDER

    assert rules.check(Runner(out=io.StringIO()), DAGS_FOLDER) == []
