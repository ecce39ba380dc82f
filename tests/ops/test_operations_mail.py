"""The operations mail says which task failed and why; a deliberate red gate is a digest line.

The notifier is called the way Airflow's task runner calls an `on_failure_callback` (the
task context with `exception`), sending through Airflow's SMTP connection to the in-process
SMTP server; the digest is mailed by the housekeeping task through the same kind of server.
"""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest

from etl.core.privacy import contains_cpr
from etl.core.settings import Settings
from etl.ops import digest
from etl.ops.mailsink import MailSink
from etl.report import fmt
from etl.tasks.housekeeping import mail_operations_digest
from etl.tasks.orchestration import failure_notifier
from etl.tasks.quality import DataQualityBreach, dq_gate

OPERATIONS = "vagt@kommune.example"
RUN = "scheduled__2025-11-20T00:00:00+00:00"


@pytest.fixture
def sink(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("SOFLI_DATA_DIR", str(data))
    monkeypatch.setenv("SOFLI_OPERATIONS_EMAIL", OPERATIONS)
    monkeypatch.delenv("SOFLI_MODE", raising=False)
    with MailSink(tmp_path / "mail") as server:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": server.port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "sofli@sofli.example"}}))
        yield SimpleNamespace(server=server, data=data)


def fail(task_id: str, error: BaseException, dag_id: str = "extract_klage") -> None:
    """What the task runner does on a failure: the callback with the task's context and its exception."""
    ti = SimpleNamespace(dag_id=dag_id, task_id=task_id, try_number=1, log_url="http://airflow/log",
                         start_date=dt.datetime(2025, 11, 20, 0, 5, tzinfo=dt.UTC))
    failure_notifier()({"ti": ti, "run_id": RUN, "exception": error})


def test_a_failed_task_mails_operations_which_task_and_why(sink):
    fail("land_klage", OSError("(sqlite3.OperationalError) unable to open database file <klage.db>"))
    (mail,) = sink.server.messages()
    assert mail["To"] == OPERATIONS
    assert mail["Subject"] == "[sofli] Task fejlede: extract_klage.land_klage"
    body = mail.get_body(("html",)).get_content()
    assert f"fejlede i kørsel {RUN} (forsøg 1, startet 2025-11-20 01:05:00 (CET))" in body
    assert ("<b>Årsag:</b> OSError: (sqlite3.OperationalError) unable to open database file &lt;klage.db&gt;"
            in body)


def test_the_reason_never_carries_a_cpr_number(sink):
    cpr = "1211901234"  # synthetic, for this test
    fail("validate_cpr", ValueError(f"bad row {cpr} in file"), dag_id="extract_cpr")
    (mail,) = sink.server.messages()
    body = mail.get_body(("html",)).get_content()
    assert "ValueError: bad row (CPR-lignende værdi udeladt) in file" in body
    assert not contains_cpr(body)
    assert len(digest.failure_reason("x" * 5000)) == digest.MAX_REASON


def test_the_deliberate_red_gate_is_a_digest_line_not_a_failure_mail(sink):
    summary = {"run_id": RUN, "breaches": [
        {"rule_id": "DQ10", "source": "klage", "failing": 1, "population": 1, "threshold_kind": "count",
         "threshold": 0.0, "severity": "error"}]}
    with pytest.raises(DataQualityBreach) as raised:
        dq_gate(summary)
    for _night in range(2):  # two red nights the same day: two lines, still no mail
        fail("gate", raised.value, dag_id="data_quality")
    assert sink.server.messages() == []
    today = max(digest.pending(sink.data, dt.date(2100, 1, 1)))
    lines = digest.pending(sink.data, today + dt.timedelta(days=1))[today]
    assert lines == [{"dag_id": "data_quality", "task_id": "gate", "run_id": RUN,
                      "reason": "DataQualityBreach: 1 error rule breach(es): DQ10 klage: 1 of 1 failing "
                                "(threshold count 0.0, error)"}] * 2

    # housekeeping mails the days before its own once, then nothing more
    settings = Settings.resolve()
    smtp = {"host": "127.0.0.1", "port": sink.server.port}
    assert mail_operations_digest(today, smtp, settings=settings)["lines"] == 0  # today's lines wait for tomorrow
    sent = mail_operations_digest(today + dt.timedelta(days=1), smtp, settings=settings)
    assert sent == {"days": [today.isoformat()], "lines": 2, "mailed": True}
    (mail,) = sink.server.messages()
    assert mail["To"] == OPERATIONS and mail["Auto-Submitted"] == "auto-generated"
    assert mail["Subject"] == f"[sofli] Driftsoversigt {fmt.date(today)}: datakvalitetsporten stoppede natten 2 gange"
    text = mail.get_body(("plain",)).get_content()
    assert text.count(f"data_quality.gate ({RUN}): DataQualityBreach: 1 error rule breach(es): DQ10 klage") == 2
    again = mail_operations_digest(today + dt.timedelta(days=2), smtp, settings=settings)
    assert again == {"days": [], "lines": 0, "mailed": False} and len(sink.server.messages()) == 1


def test_without_smtp_the_digest_waits(sink):
    digest.record(sink.data, dt.date(2025, 11, 20), "data_quality", "gate", RUN, "DataQualityBreach: x")
    settings = Settings.resolve()
    assert mail_operations_digest(dt.date(2025, 11, 21), None, settings=settings)["mailed"] is False
    assert list(digest.pending(sink.data, dt.date(2025, 11, 21))) == [dt.date(2025, 11, 20)]
