"""Governance as tests: every DAG parses, has an owner, docs, tags, retries and an alert route."""


from etl.sources import SOURCES
from etl.tasks.orchestration import ALLOWED_TAGS


def test_no_import_errors_and_exactly_the_expected_dags(dagbag):
    assert dagbag.import_errors == {}
    expected = {f"extract_{name}" for name in SOURCES} | {"build_model", "publish_kpis", "data_quality",
                                                      "housekeeping", "close_quarter"}
    assert set(dagbag.dags) == expected


def test_every_dag_is_governed(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.doc_md and len(dag.doc_md) > 200, dag_id
        assert dag.description, dag_id
        assert set(dag.tags) <= ALLOWED_TAGS and "sofli" in dag.tags, dag_id
        assert dag.max_active_runs == 1, dag_id
        assert dag.catchup is False, dag_id
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", (dag_id, task.task_id)
            assert task.on_failure_callback, (dag_id, task.task_id)  # the alert route
            if task.task_id not in ("gate", "audit"):  # a breach or a failed audit is not transient
                assert task.retries >= 1, (dag_id, task.task_id)


def test_extract_dags_have_one_land_and_validate_per_contract_table_and_an_asset(dagbag):
    for name, source in SOURCES.items():
        dag = dagbag.dags[f"extract_{name}"]
        ids = {t.task_id for t in dag.tasks}
        assert ids == {f"land_{t.name}" for t in source.tables} | {f"validate_{t.name}" for t in source.tables} | {"publish"}
        publish = dag.get_task("publish")
        assert [o.uri for o in publish.outlets] == [f"sofli://staged/{name}"]
        assert dag.timetable.expression == source.schedule, name  # the registry's staggered cron


def test_the_chain_is_data_aware(dagbag):
    model = dagbag.dags["build_model"]
    assert "sofli://staged/boern" in str(model.timetable.asset_condition)
    assert "sofli://model/citizen" in str(dagbag.dags["publish_kpis"].timetable.asset_condition)
    assert "sofli://mart/kpi_value" in str(dagbag.dags["data_quality"].timetable.asset_condition)
    gate = dagbag.dags["data_quality"].get_task("gate")
    assert {t.task_id for t in gate.upstream_list} == {"run_rules", "alert_owners"}


def test_housekeeping_runs_daily_after_the_night_and_only_deletes_through_etl(dagbag):
    dag = dagbag.dags["housekeeping"]
    assert [t.task_id for t in dag.tasks] == ["expire_partitions"]
    assert dag.timetable.expression == "30 5 * * *"
    assert "SOFLI_RETENTION_DAYS" in dag.doc_md and "CURRENT.json" in dag.doc_md
    assert set(dag.params) == {"extract_date", "dry_run"}


def test_close_quarter_checks_daily_freezes_then_reports_with_its_params(dagbag):
    dag = dagbag.dags["close_quarter"]
    assert dag.timetable.expression == "0 6 * * *"
    assert {t.task_id for t in dag.get_task("report").upstream_list} == {"freeze"}
    assert set(dag.params) == {"quarter", "reason", "force", "extract_date"}
    assert dag.params["force"] is False
    assert "SOFLI_CLOSE_AFTER_DAYS" in dag.doc_md and "mart.kpi_version" in dag.doc_md


def test_every_clock_kind_survives_serialization(monkeypatch):
    """Cron, exact moments (`at:`) and off, as the dag-processor serializes and the scheduler reads them."""
    import pendulum
    from airflow.sdk import DAG, task
    from airflow.serialization.serialized_objects import DagSerialization

    from etl.core.settings import NightSchedule
    from etl.tasks import orchestration

    monkeypatch.setenv("SOFLI_NIGHT_CUTOFF", "at:2026-03-10T05:00:00+01:00,2026-03-11T05:00:00+01:00")
    monkeypatch.setenv("SOFLI_EXTRACT_SCHEDULE_KLAGE", "off")
    monkeypatch.setattr(orchestration, "night_schedule", lambda: NightSchedule.from_env())
    for dag_id, schedule in (("model", orchestration.model_schedule()), ("klage", orchestration.extract_schedule("klage")),
                             ("boern", orchestration.extract_schedule("boern"))):
        with DAG(dag_id, schedule=schedule, start_date=pendulum.datetime(2025, 1, 1)) as dag:
            task(lambda: None, task_id="t")()
        timetable = DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable
        if dag_id == "model":
            assert [m.isoformat() for m in timetable.timetable.event_dates] == ["2026-03-10T05:00:00+01:00",
                                                                                "2026-03-11T05:00:00+01:00"]
            assert "sofli://staged/klage" in str(timetable.asset_condition)
        elif dag_id == "klage":
            assert type(timetable).__name__ == "NullTimetable"
        else:
            assert timetable.summary == "0 1 * * *"
