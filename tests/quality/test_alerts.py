"""Owner e-mails, read as the SMTP server received them: owners, counts, attachment rows, headers.

The run (extraction 2025-11-20) has two systems' decisions, with the expected results worked
out by hand from the rows below:

- voksen: decisions V1-V4 on case 1001 (unit 4010101, caseworker 77). V1-V3 have no deadline
  (DQ01: 3 of 4, 75,0 %, previous run 1), V4 is dated 2025-12-01, after the extraction
  (DQ02: 1 of 4, unchanged since the previous run).
- boern: decisions B1, B2 on case BS-2025-000123 (unit 4020202, caseworker 12); B1 has no
  deadline (DQ01: 1 of 2, 50,0 %; 0 the previous run).

Owners are per rule × source with the source's owner as default: dq-voksen gets two breaches
with 4 failing rows, dq-boern one breach with 1 failing row; neither hears of the other's.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pandas as pd
import pyarrow as pa
import pytest

from etl.core.privacy import CprInOutputError, contains_cpr
from etl.core.settings import Settings
from etl.core.storage import write_parquet_atomic
from etl.ops.mailsink import MailSink
from etl.quality.alerts import (
    ATTACHMENT_COLUMNS,
    MAX_ATTACHMENT_ROWS,
    MailContext,
    assert_no_cpr,
    attachment_csv,
    build_owner_emails,
    send_emails,
)
from etl.quality.runner import Breach, run_rules
from etl.tasks import quality as dq_tasks

VOKSEN, BOERN = "dq-voksen@sofli.example", "dq-boern@sofli.example"
RUN_ID = "scheduled__2025-11-20T01:00:00+00:00"
NIGHT = dt.date(2025, 11, 20)
BASE_URL = "https://sofli.kommune.example/"
NOW = dt.datetime(2025, 11, 20, 5, 30, tzinfo=dt.UTC)
CONTEXT = MailContext(RUN_ID, NIGHT, BASE_URL, "sofli@sofli.example", NOW)
HEADER = list(ATTACHMENT_COLUMNS.values())


def decisions(deadlines: dict[str, str | None], dates: dict[str, str], ids: dict[str, str] | None = None) -> list:
    ids = ids or {}
    rows = []
    for decision, deadline in deadlines.items():
        source, case = ("voksen", "voksen:1001") if decision.startswith("V") else ("boern", "boern:7")
        rows.append({"source": source, "case_key": case, "citizen_key": "p", "outcome": "Bevilget",
                     "paragraph_text": "SEL §107", "area": "Voksne", "decision_key": f"{source}:{decision}",
                     "decision_id": ids.get(decision, decision), "decision_date": dates[decision],
                     "deadline_date": deadline, "unit_code": "4010101" if source == "voksen" else "4020202"})
    return rows


CASES = [{"case_key": "voksen:1001", "source": "voksen", "case_id": "1001", "case_number": "1001",
          "citizen_key": "p", "opened_date": "2025-01-01", "unit_code": "4010101", "caseworker_id": "77"},
         {"case_key": "boern:7", "source": "boern", "case_id": "7", "case_number": "BS-2025-000123",
          "citizen_key": "q", "opened_date": "2025-01-01", "unit_code": "4020202", "caseworker_id": "12"}]
DATES = {"V1": "2025-08-01", "V2": "2025-08-01", "V3": "2025-08-01", "V4": "2025-12-01",
         "B1": "2025-08-01", "B2": "2025-08-01"}


@pytest.fixture
def run(make_model, rule_config):
    """(outcome, config) of the run described in the module docstring, after a previous run."""
    config = {"DQ01": rule_config("DQ01", "rate", 0.05, "error", owners=("source",), title="Afgørelser <uden> frist"),
              "DQ02": rule_config("DQ02", "count", 0, "error", owners=("source",), title="Afgørelser i fremtiden")}

    def outcome(deadlines, run_id, computed_at, previous=None, ids=None):
        model = make_model(fact_case=CASES, fact_decision=decisions(deadlines, DATES, ids))
        return run_rules(model, config, run_id, computed_at, previous=previous)

    def night(ids=None):
        previous = outcome({"V1": None, "V2": "2025-09-01", "V3": "2025-09-01", "V4": "2025-09-01",
                            "B1": "2025-09-01", "B2": "2025-09-01"}, "run-0", dt.datetime(2025, 11, 19, 3))
        return outcome({"V1": None, "V2": None, "V3": None, "V4": "2025-09-01", "B1": None, "B2": "2025-09-01"},
                       RUN_ID, dt.datetime(2025, 11, 20, 3), previous.dq_result, ids)

    return night


def received(outcome, tmp_path, context: MailContext = CONTEXT) -> dict:
    """Build, send through the in-process SMTP server, and read back: {recipient: message}."""
    messages = build_owner_emails(outcome.breaches, outcome.failure_records, context)
    with MailSink(tmp_path / "mail") as sink:
        assert send_emails(messages, "127.0.0.1", sink.port, timeout=5) == len(messages)
        got = sink.messages()
    raw = "".join(p.read_text(encoding="ascii") for p in sorted((tmp_path / "mail").glob("*.eml")))
    assert not contains_cpr(raw)  # the raw bytes too (quoted-printable keeps them greppable)
    assert len({m["To"] for m in got}) == len(got)
    return {m["To"]: m for m in got}


def text_of(message) -> str:
    return message.get_body(("plain",)).get_content()


def attachment_rows(message) -> list[list[str]]:
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_content_type() == "text/csv"
    content = attachment.get_content()
    assert content.startswith("\ufeff")  # Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(content.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == HEADER
    return rows[1:]


def test_owners_per_rule_and_source_each_get_only_their_source_s_breaches(run, tmp_path):
    mails = received(run(), tmp_path)
    assert sorted(mails) == [BOERN, VOKSEN]
    assert mails[VOKSEN]["Subject"] == ("[sofli] 2 overskridelser af datakvalitetsregler – 4 fejlende rækker "
                                        "(20. november 2025)")
    assert mails[BOERN]["Subject"] == ("[sofli] 1 overskridelse af datakvalitetsregler – 1 fejlende række "
                                       "(20. november 2025)")
    voksen, boern = text_of(mails[VOKSEN]), text_of(mails[BOERN])
    # the same count in the body as in the subject
    assert voksen.startswith("Nattens datakvalitetskørsel (20. november 2025) har 2 overskridelser af "
                             "datakvalitetsregler, som du ejer, med 4 fejlende rækker i alt:")
    assert boern.startswith("Nattens datakvalitetskørsel (20. november 2025) har 1 overskridelse af "
                            "datakvalitetsregler, som du ejer, med 1 fejlende række i alt:")
    assert [line for line in voksen.splitlines() if line.startswith("DQ")] == [
        "DQ01 Afgørelser <uden> frist", "DQ02 Afgørelser i fremtiden"]
    assert [line for line in boern.splitlines() if line.startswith("DQ")] == ["DQ01 Afgørelser <uden> frist"]
    assert "  Kilde: voksen" in voksen and "boern" not in voksen
    assert "  Kilde: boern" in boern and "voksen" not in boern
    assert "  Fejlende: 3 af 4 rækker (75,0 %)" in voksen and "  Udvikling: +2 siden sidste kørsel (værre)" in voksen
    assert "  Tærskel: højst 5,0 % fejlende rækker" in voksen
    assert "  Fejlende: 1 af 4 rækker (25,0 %)" in voksen and "  Udvikling: uændret" in voksen
    assert "  Tærskel: højst 0 fejlende rækker" in voksen and "  Alvorlighed: fejl" in voksen
    assert "  Fejlende: 1 af 2 rækker (50,0 %)" in boern and "  Udvikling: +1 siden sidste kørsel (værre)" in boern
    assert "  Rækkerne: 3 i sofli-datakvalitet-2025-11-20.csv (regel DQ01, kilde voksen)" in voksen
    assert "Vedhæftet: sofli-datakvalitet-2025-11-20.csv med 4 fejlende rækker." in voksen


def test_the_attachment_lists_the_failing_records_with_the_source_s_own_identifiers(run, tmp_path):
    mails = received(run(), tmp_path)
    assert attachment_rows(mails[VOKSEN]) == [
        ["DQ01", "voksen", "afgoerelse", "V1", "1001", "4010101", "77", "frist (FristDato/frist_dato) mangler"],
        ["DQ01", "voksen", "afgoerelse", "V2", "1001", "4010101", "77", "frist (FristDato/frist_dato) mangler"],
        ["DQ01", "voksen", "afgoerelse", "V3", "1001", "4010101", "77", "frist (FristDato/frist_dato) mangler"],
        ["DQ02", "voksen", "afgoerelse", "V4", "1001", "4010101", "77",
         "afgørelsesdato 2025-12-01 er efter udtræksdatoen 2025-11-20"],
    ]
    assert attachment_rows(mails[BOERN]) == [
        ["DQ01", "boern", "Afgoerelse", "B1", "BS-2025-000123", "4020202", "12",
         "frist (FristDato/frist_dato) mangler"]]
    filename = next(mails[BOERN].iter_attachments()).get_filename()
    assert filename == "sofli-datakvalitet-2025-11-20.csv"


def test_the_headers_say_when_who_and_that_a_robot_sent_it(run, tmp_path):
    mails = received(run(), tmp_path)
    ids = set()
    for owner, message in mails.items():
        assert message["From"] == "sofli@sofli.example" and message["To"] == owner
        assert message["Date"] == "Thu, 20 Nov 2025 06:30:00 +0100"  # Copenhagen, winter time
        assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@sofli.example>")
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["List-Id"] == "sofli datakvalitet <datakvalitet.sofli.example>"
        ids.add(message["Message-ID"])
        assert message.get_content_type() == "multipart/mixed"
    assert len(ids) == 2


def test_the_link_opens_the_data_quality_page_filtered_to_the_owner(run, tmp_path):
    mails = received(run(), tmp_path)
    page = "https://sofli.kommune.example/sofli-dq/?owner=dq-voksen@sofli.example"
    assert f"Datakvalitetssiden med dine regler: {page}" in text_of(mails[VOKSEN])
    html_body = mails[VOKSEN].get_body(("html",)).get_content()
    assert f'<a href="{page}">' in html_body
    assert "Afgørelser &lt;uden&gt; frist" in html_body and "<uden>" not in html_body
    assert "localhost" not in text_of(mails[VOKSEN])


def test_danish_thousands_in_counts():
    big = Breach("DQ01", "Afgørelser uden frist", "Ret fristen.", "voksen", 12345, 1234567, 12345 / 1234567,
                 "rate", 0.005, "error", (VOKSEN,), 10000)
    (message,) = build_owner_emails([big], None, CONTEXT)
    assert message["Subject"] == ("[sofli] 1 overskridelse af datakvalitetsregler – 12.345 fejlende rækker "
                                  "(20. november 2025)")
    text = text_of(message)
    assert "  Fejlende: 12.345 af 1.234.567 rækker (1,0 %)" in text
    assert "  Tærskel: højst 0,5 % fejlende rækker" in text
    assert "  Udvikling: +2.345 siden sidste kørsel (værre)" in text


def test_a_cpr_shaped_record_id_is_masked_in_the_attachment(run, tmp_path):
    """A source using a (synthetic) CPR as its record id: the owner gets the row, never the number."""
    cpr = "0101901234"  # synthetic, generated for this test
    mails = received(run(ids={"V2": cpr}), tmp_path)
    rows = attachment_rows(mails[VOKSEN])
    assert [r[3] for r in rows] == ["(CPR-lignende værdi udeladt)", "V1", "V3", "V4"]
    for message in mails.values():
        for part in message.walk():
            if not part.is_multipart():
                assert cpr not in part.get_content() and not contains_cpr(part.get_content())


def test_the_attachment_is_scanned_and_a_cpr_shaped_run_id_stops_the_mail(run):
    with pytest.raises(CprInOutputError):
        build_owner_emails(run().breaches, None, MailContext("manual__0102031234", NIGHT, BASE_URL,
                                                             "sofli@sofli.example", NOW))
    assert not contains_cpr(attachment_csv(pd.DataFrame([{"rule_id": "DQ01", "record_id": "010190-1234"}])))


def test_breaches_passed_as_json_give_the_same_emails(run):
    """The alert task gets the breaches through XCom as JSON, not as objects."""
    outcome = run()
    as_json = json.loads(json.dumps([b.__dict__ for b in outcome.breaches]))
    from_json = build_owner_emails(as_json, outcome.failure_records, CONTEXT)
    direct = build_owner_emails(outcome.breaches, outcome.failure_records, CONTEXT)
    assert [(m["To"], m["Subject"], text_of(m)) for m in from_json] == [
        (m["To"], m["Subject"], text_of(m)) for m in direct]


def test_no_email_when_nothing_breached():
    assert build_owner_emails([], None, CONTEXT) == []


def test_a_huge_breach_attaches_the_first_rows_and_says_so(run):
    outcome = run()
    records = outcome.failure_records
    many = pd.concat([records[records["source"] == "boern"]] * (MAX_ATTACHMENT_ROWS + 5), ignore_index=True)
    (message,) = build_owner_emails([b for b in outcome.breaches if b.source == "boern"], many, CONTEXT)
    assert len(attachment_rows(message)) == MAX_ATTACHMENT_ROWS
    assert "Vedhæftet: 50.000 af 50.005 fejlende rækker" in text_of(message)


def test_the_alert_task_attaches_this_run_s_records_and_links_the_configured_page(run, tmp_path):
    outcome = run()
    settings = Settings(tmp_path / "data", tmp_path, "demo", base_url="https://sofli.kommune.example")
    write_parquet_atomic(settings.zones.dq_failure_records,
                         pa.Table.from_pandas(outcome.failure_records.astype("string"),
                                                                 preserve_index=False))
    breaches = json.loads(json.dumps([b.__dict__ for b in outcome.breaches]))
    summary = {"run_id": RUN_ID, "run_date": NIGHT.isoformat(), "breaches": breaches}
    with MailSink(tmp_path / "mail") as sink:
        sent = dq_tasks.send_dq_alerts(summary, {"host": "127.0.0.1", "port": sink.port}, settings, today=NIGHT)
        mails = {m["To"]: m for m in sink.messages()}
    assert sent == {"emails": 2, "recipients": [BOERN, VOKSEN]}
    assert [r[3] for r in attachment_rows(mails[VOKSEN])] == ["V1", "V2", "V3", "V4"]
    assert "https://sofli.kommune.example/sofli-dq/?owner=dq-boern@sofli.example" in text_of(mails[BOERN])
    # another run's records are never attached to this run's mail
    with MailSink(tmp_path / "mail2") as sink:
        dq_tasks.send_dq_alerts({**summary, "run_id": "manual__other"}, {"host": "127.0.0.1", "port": sink.port},
                                settings, today=NIGHT + dt.timedelta(days=1))
        (other, *_) = sink.messages()
    assert attachment_rows(other) == []


@pytest.mark.parametrize("text", ["010203-1234", "0102031234", "102031234", "010203-9AB1",
                                  "borger 010203-1234 i teksten"])
def test_cpr_guard_raises(text):
    with pytest.raises(CprInOutputError) as error:
        assert_no_cpr(text)
    assert "1234" not in str(error.value)


@pytest.mark.parametrize("text", [RUN_ID, "3 af 4 rækker (75,0 %)", "enhed 4010101", "2025-11-20 01:00"])
def test_cpr_guard_lets_ordinary_text_pass(text):
    assert_no_cpr(text)


def test_sending_nothing_opens_no_connection():
    assert send_emails([], "127.0.0.1", 1) == 0
