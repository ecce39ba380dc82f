"""What every DAG shares (etl/tasks/orchestration.py), apart from the DagBag's governance
tests in tests/dags: who triggered a run."""

from __future__ import annotations

from types import SimpleNamespace

from etl.tasks.orchestration import triggered_by


def test_who_froze_a_quarter_is_the_triggering_user_else_airflow():
    assert triggered_by({"dag_run": SimpleNamespace(triggering_user_name="anna")}) == "anna"
    assert triggered_by({"dag_run": SimpleNamespace(triggering_user_name=None)}) == "airflow"
    assert triggered_by({}) == "airflow"
