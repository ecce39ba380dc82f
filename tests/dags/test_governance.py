"""Governance as tests, on the one DagBag of `dags/` (tests/dags/conftest.py).

Every DAG parses without a cycle; has an owner on every task, docs, a description, tags
from the allowed set, the house settings (start date, no catchup, one active run, retries
with backoff) and an alert route; every nightly DAG has a deadline alert that really
e-mails operations (the callback is run the way Airflow's triggerer runs it, `await
CopenhagenSmtpNotifier(**kwargs, context=...)` with the scheduler's simple context, into an SMTP
server on loopback); each DAG family has the tasks, assets, schedule and params it
documents; and parsing a DAG file leaves its task code's heavy imports for run time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import subprocess
import sys

import pendulum
import pytest
from airflow.sdk import DAG
from airflow.sdk import task as task_decorator
from airflow.sdk.module_loading import import_string
from airflow.serialization.serialized_objects import DagSerialization

from etl.core.settings import REPO_ROOT, ConfigurationError, NightSchedule, operations_email
from etl.ops.mailsink import MailSink
from etl.sources import SOURCES
from etl.tasks import orchestration
from etl.tasks.orchestration import ALLOWED_TAGS, NIGHT_DEADLINES, copenhagen_time, failure_notifier

OPERATIONS_EMAIL = operations_email({})  # the dagbag fixture parses with no SOFLI_OPERATIONS_EMAIL

#: Every nightly DAG and the stage whose deadline applies to it.
NIGHTLY = {f"extract_{name}": "extract" for name in SOURCES} | {
    "build_model": "build_model", "publish_kpis": "publish_kpis", "data_quality": "data_quality"}


# --- every DAG -----------------------------------------------------------------------

def test_no_import_errors_and_exactly_the_expected_dags(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == set(NIGHTLY) | {"housekeeping", "close_quarter", "refresh_daytime"}


def test_every_dag_is_governed(dagbag):
    start = pendulum.datetime(2025, 1, 1, tz="Europe/Copenhagen")
    for dag_id, dag in dagbag.dags.items():  # every DAG in the folder, also ones added later
        dag.check_cycle()  # raises AirflowDagCycleException
        assert dag.doc_md and len(dag.doc_md) > 200, dag_id
        assert dag.description, dag_id
        assert set(dag.tags) <= ALLOWED_TAGS and "sofli" in dag.tags, dag_id
        assert (dag.catchup, dag.max_active_runs, dag.start_date == start) == (False, 1, True), dag_id
        assert dag.default_args["retries"] == 2 and dag.default_args["retry_exponential_backoff"], dag_id
        for task in dag.tasks:
            assert task.owner and task.owner != "airflow", (dag_id, task.task_id)
            assert task.on_failure_callback, (dag_id, task.task_id)  # the alert route
            if task.task_id not in ("gate", "audit"):  # a breach or a failed audit is not transient
                assert task.retries >= 1, (dag_id, task.task_id)


# --- a night that runs late ------------------------------------------------------------

def test_every_nightly_dag_has_a_deadline_alert_that_mails_operations(dagbag):
    for dag_id, stage in NIGHTLY.items():
        alerts = dagbag.dags[dag_id].deadline
        assert alerts and len(alerts) == 1, dag_id
        alert = alerts[0]
        assert type(alert.reference).__name__ == "DagRunQueuedAtDeadline", dag_id
        assert alert.interval == NIGHT_DEADLINES[stage], dag_id
        assert alert.callback.path == "etl.tasks.orchestration.CopenhagenSmtpNotifier", dag_id
        assert alert.callback.kwargs["to"] == OPERATIONS_EMAIL and alert.callback.kwargs["smtp_conn_id"]
    assert not dagbag.dags["housekeeping"].deadline  # not part of the night's chain


def test_the_operations_address_is_read_when_a_notifier_is_built_not_at_import(monkeypatch):
    monkeypatch.setenv("SOFLI_OPERATIONS_EMAIL", "vagt@kommune.example")
    assert failure_notifier().to == "vagt@kommune.example"
    monkeypatch.setenv("SOFLI_OPERATIONS_EMAIL", "not an address")
    with pytest.raises(ConfigurationError, match="SOFLI_OPERATIONS_EMAIL"):
        failure_notifier()


def test_the_deadline_alerts_survive_serialization(dagbag):
    serialized = DagSerialization.to_dict(dagbag.dags["extract_klage"])
    assert "SmtpNotifier" in json.dumps(serialized, default=str)


def test_a_missed_deadline_sends_the_e_mail_in_copenhagen_time(dagbag, tmp_path, monkeypatch):
    alert = dagbag.dags["publish_kpis"].deadline[0]
    context = {"dag_run": {"dag_id": "publish_kpis", "dag_run_id": "asset_triggered__2025-11-15T01:00:00",
                           "queued_at": "2025-11-15T03:12:00+00:00"},
               "deadline": {"id": "x", "deadline_time": "2025-11-15T05:12:00+00:00"}}
    with MailSink(tmp_path / "mail") as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": sink.port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "sofli@sofli.example"}}))

        async def triggerer():  # airflow.triggers.callback.CallbackTrigger.run, for a notifier class
            notifier = import_string(alert.callback.path)  # as the triggerer imports it
            await notifier(**alert.callback.kwargs, context=context)

        asyncio.run(triggerer())
        messages = sink.messages()
    assert len(messages) == 1
    mail = messages[0]
    assert mail["To"] == OPERATIONS_EMAIL
    assert mail["Subject"] == "[sofli] Natten er forsinket: publish_kpis er ikke færdig"
    body = mail.get_body(("html",)).get_content()
    assert "asset_triggered__2025-11-15T01:00:00" in body
    # 03:12 and 05:12 UTC are 04:12 and 06:12 in Copenhagen in November (CET, UTC+1)
    assert "(sat i kø 2025-11-15 04:12:00 (CET))" in body
    assert "ved fristen 2025-11-15 06:12:00 (CET) (2 t efter kø)" in body


def test_copenhagen_time_reads_utc_text_and_datetimes_in_summer_and_winter():
    assert copenhagen_time("2025-07-01T10:00:00+00:00") == "2025-07-01 12:00:00 (CEST)"
    assert copenhagen_time(dt.datetime(2025, 12, 1, 23, 30, tzinfo=dt.UTC)) == "2025-12-02 00:30:00 (CET)"
    assert copenhagen_time(None) == "" and copenhagen_time("not a time") == "not a time"


# --- each DAG family -------------------------------------------------------------------

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


def test_publish_kpis_can_recompute_further_back(dagbag):
    dag = dagbag.dags["publish_kpis"]
    assert set(dag.params) == {"history_quarters"} and dag.params["history_quarters"] == 4
    assert "history_quarters" in dag.doc_md


def test_housekeeping_runs_daily_after_the_night_and_only_deletes_through_etl(dagbag):
    dag = dagbag.dags["housekeeping"]
    assert [t.task_id for t in dag.tasks] == ["expire_partitions", "mail_operations_digest"]
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


def test_refresh_daytime_is_off_by_default_one_run_with_no_asset_and_the_nightly_steps(dagbag):
    dag = dagbag.dags["refresh_daytime"]
    assert type(dag.timetable).__name__ == "NullTimetable"  # off unless SOFLI_DAYTIME_REFRESH is set
    assert "SOFLI_DAYTIME_REFRESH" in dag.doc_md and "no Asset" in dag.doc_md
    database = [name for name, source in SOURCES.items() if source.kind == "database"]
    assert {"cpr", "beskaeftigelse"}.isdisjoint(database) and len(database) == 6
    assert {t.task_id for t in dag.tasks} == ({"check_night", "build_model", "compute", "audit", "publish",
                                               "data_quality"} | {f"refresh_{name}" for name in database})
    assert {t.task_id for t in dag.get_task("build_model").upstream_list} == (
        {"check_night"} | {f"refresh_{name}" for name in database})
    assert [t.task_id for t in dag.get_task("audit").upstream_list] == ["compute"]
    assert [t.task_id for t in dag.get_task("data_quality").upstream_list] == ["publish"]
    assert all(not t.outlets for t in dag.tasks)  # no Asset event: the nightly DAGs are not started by it
    assert set(dag.params) == {"extract_date"} and not dag.deadline


def test_the_daytime_clock_adds_only_refresh_daytime_and_leaves_the_night_as_it_was(tmp_path):
    """The DAG folder parsed three times as the dag-processor would: the clock off (default), on,
    and on with SOFLI_SCHEDULES=off: every DAG and every nightly timetable is the same in all three;
    only refresh_daytime's schedule differs."""
    script = ("import json; from airflow.dag_processing.dagbag import DagBag; "
              f"bag = DagBag(dag_folder={str(REPO_ROOT / 'dags')!r}); "
              "print(json.dumps({'errors': len(bag.import_errors), 'dags': {i: [type(d.timetable).__name__, "
              "getattr(d.timetable, 'expression', None) or getattr(getattr(d.timetable, 'timetable', None), 'expression', ''), "
              "str(getattr(d.timetable, 'asset_condition', ''))] "
              "for i, d in bag.dags.items()}}))")
    parsed = {}
    for case, extra in (("default", {}), ("on", {"SOFLI_DAYTIME_REFRESH": "0 8-16 * * 1-5"}),
                        ("all off", {"SOFLI_DAYTIME_REFRESH": "0 8-16 * * 1-5", "SOFLI_SCHEDULES": "off"})):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SOFLI_"))}
        env.update({"AIRFLOW_HOME": str(tmp_path / case), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                    "PYTHONPATH": str(REPO_ROOT), **extra})
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300,
                                cwd=REPO_ROOT)
        assert result.returncode == 0, result.stderr[-3000:]
        parsed[case] = json.loads(result.stdout.strip().splitlines()[-1])
        assert parsed[case]["errors"] == 0, case
    default, on, off = (parsed[c]["dags"] for c in ("default", "on", "all off"))
    assert set(default) == set(on) == set(off) and "refresh_daytime" in default
    assert default["refresh_daytime"][0] == off["refresh_daytime"][0] == "NullTimetable"
    assert on["refresh_daytime"][:2] == ["CronTriggerTimetable", "0 8-16 * * 1-5"]
    assert {i: t for i, t in on.items() if i != "refresh_daytime"} == {
        i: t for i, t in default.items() if i != "refresh_daytime"}
    assert default["build_model"][:2] == ["AssetOrTimeSchedule", "0 5 * * *"]
    assert default["extract_boern"][1] == "0 1 * * *" and "sofli://model/citizen" in default["publish_kpis"][2]
    assert {i for i, t in off.items() if t[0] != "NullTimetable"} == {"build_model", "publish_kpis", "data_quality"}


# --- parsing stays light ---------------------------------------------------------------

#: What each DAG file must not import when Airflow parses it: its task code's heavy imports
#: wait inside the task functions (the PLC0415 exceptions in etl/tasks/), so the dag-processor,
#: which parses every file every 30 seconds, does not pay for them.
NOT_AT_PARSE = {
    "build_model.py": ("pandas", "etl.model.stage", "etl.model.build"),
    "close_quarter.py": ("pandas", "etl.publish.freeze", "etl.report"),
    "housekeeping.py": ("pandas", "etl.ops.housekeeping"),
    "publish_kpis.py": ("etl.kpi", "etl.model.build"),
    "data_quality.py": ("etl.quality", "etl.quality.runner"),
    "refresh_daytime.py": ("etl.kpi", "etl.model.stage", "etl.model.build", "etl.quality.runner"),
}


@pytest.mark.parametrize("dag_file", sorted(NOT_AT_PARSE))
def test_parsing_a_dag_file_leaves_its_heavy_task_code_unimported(dag_file, tmp_path):
    probe = ("import json, runpy, sys; runpy.run_path(sys.argv[1]); "
             "print(json.dumps(sorted(m for m in sys.argv[2:] if m in sys.modules)))")
    env = {**os.environ, "AIRFLOW_HOME": str(tmp_path), "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    result = subprocess.run([sys.executable, "-c", probe, str(REPO_ROOT / "dags" / dag_file), *NOT_AT_PARSE[dag_file]],
                            cwd=REPO_ROOT, capture_output=True, text=True, env=env, check=True)
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_every_clock_kind_survives_serialization(monkeypatch):
    """Cron, exact moments (`at:`) and off, as the dag-processor serializes and the scheduler reads them."""
    monkeypatch.setenv("SOFLI_NIGHT_CUTOFF", "at:2026-03-10T05:00:00+01:00,2026-03-11T05:00:00+01:00")
    monkeypatch.setenv("SOFLI_EXTRACT_SCHEDULE_KLAGE", "off")
    monkeypatch.setattr(orchestration, "night_schedule", lambda: NightSchedule.from_env())
    for dag_id, schedule in (("model", orchestration.model_schedule()), ("klage", orchestration.extract_schedule("klage")),
                             ("boern", orchestration.extract_schedule("boern"))):
        with DAG(dag_id, schedule=schedule, start_date=pendulum.datetime(2025, 1, 1)) as dag:
            task_decorator(lambda: None, task_id="t")()
        timetable = DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable
        if dag_id == "model":
            assert [m.isoformat() for m in timetable.timetable.event_dates] == ["2026-03-10T05:00:00+01:00",
                                                                                "2026-03-11T05:00:00+01:00"]
            assert "sofli://staged/klage" in str(timetable.asset_condition)
        elif dag_id == "klage":
            assert type(timetable).__name__ == "NullTimetable"
        else:
            assert timetable.summary == "0 1 * * *"
