"""Operating from the UI: a night that runs late alerts, and the DagBag is clean.

The deadline e-mail is sent for real: the callback is run the way Airflow's triggerer runs
it (`await SmtpNotifier(**kwargs, context=...)` with the scheduler's simple context) into an
SMTP server on loopback.
"""

from __future__ import annotations

import asyncio
import json

from etl.sources import SOURCES
from etl.tasks.orchestration import NIGHT_DEADLINES, OPERATIONS_EMAIL

NIGHTLY = {f"extract_{name}": "extract" for name in SOURCES} | {
    "build_model": "build_model", "publish_kpis": "publish_kpis", "data_quality": "data_quality"}


def test_dagbag_has_no_import_error_cycle_or_ungoverned_dag(dagbag):
    assert dagbag.import_errors == {}
    assert len(dagbag.dags) >= len(NIGHTLY) + 1
    for dag_id, dag in dagbag.dags.items():  # every DAG in the folder, also ones added later
        dag.check_cycle()  # raises AirflowDagCycleException
        assert dag.doc_md and len(dag.doc_md) > 200, dag_id
        assert dag.description, dag_id
        assert all(t.owner and t.owner != "airflow" for t in dag.tasks), dag_id


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


def test_the_deadline_alerts_survive_serialization(dagbag):
    from airflow.serialization.serialized_objects import DagSerialization

    serialized = DagSerialization.to_dict(dagbag.dags["extract_klage"])
    assert "SmtpNotifier" in json.dumps(serialized, default=str)


def test_a_missed_deadline_sends_the_e_mail_in_copenhagen_time(dagbag, tmp_path, monkeypatch):
    from airflow.sdk.module_loading import import_string

    from etl.ops.mailsink import MailSink

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
    import datetime as dt

    from etl.tasks.orchestration import copenhagen_time

    assert copenhagen_time("2025-07-01T10:00:00+00:00") == "2025-07-01 12:00:00 (CEST)"
    assert copenhagen_time(dt.datetime(2025, 12, 1, 23, 30, tzinfo=dt.UTC)) == "2025-12-02 00:30:00 (CET)"
    assert copenhagen_time(None) == "" and copenhagen_time("not a time") == "not a time"


def test_publish_kpis_can_recompute_further_back(dagbag):
    dag = dagbag.dags["publish_kpis"]
    assert set(dag.params) == {"history_quarters"} and dag.params["history_quarters"] == 4
    assert "history_quarters" in dag.doc_md


def test_who_froze_a_quarter_is_the_triggering_user_else_airflow():
    from types import SimpleNamespace  # noqa: PLC0415

    from etl.tasks.orchestration import triggered_by  # noqa: PLC0415

    assert triggered_by({"dag_run": SimpleNamespace(triggering_user_name="anna")}) == "anna"
    assert triggered_by({"dag_run": SimpleNamespace(triggering_user_name=None)}) == "airflow"
    assert triggered_by({}) == "airflow"


def test_every_dag_shares_the_house_settings(dagbag):
    import pendulum  # noqa: PLC0415

    start = pendulum.datetime(2025, 1, 1, tz="Europe/Copenhagen")
    for dag_id, dag in dagbag.dags.items():
        assert (dag.catchup, dag.max_active_runs, dag.start_date == start) == (False, 1, True), dag_id
        assert dag.default_args["retries"] == 2 and dag.default_args["retry_exponential_backoff"], dag_id
