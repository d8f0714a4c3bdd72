"""What `up` checks after an upgrade, on plain data: the DAGs it compares and how a task is named."""

from __future__ import annotations

import ast

from automation.providers.upgrade_verify import DECRYPT, Kept, LastTask, missing_dags


def test_a_dag_listed_before_and_not_after_is_missing_and_new_ones_are_not() -> None:
    kept = Kept(frozenset({"example1", "example_xcom"}), None)
    assert missing_dags(kept, ["example1", "example_xcom", "added_since"]) == []
    assert missing_dags(kept, ["example1"]) == ["example_xcom"]


def test_the_last_task_is_named_as_the_api_addresses_it() -> None:
    task = LastTask("example1", "manual__2026-12-04T00:00:00+00:00", "extract", 2, -1)
    assert task.name == "example1 manual__2026-12-04T00:00:00+00:00 extract"


def test_the_decryption_script_prints_only_a_count() -> None:
    """Its output is read by `up` and may be shown in an error: no decrypted value may reach it."""
    calls = [node for node in ast.walk(ast.parse(DECRYPT)) if isinstance(node, ast.Call)]
    printed = [call for call in calls if getattr(call.func, "id", "") == "print"]
    assert [ast.unparse(call) for call in printed] == ["print(len(found))"]
