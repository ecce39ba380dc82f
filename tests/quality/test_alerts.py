"""Owner e-mails: grouping, content, the CPR guard, and delivery through a real SMTP server.

The run has three breached rules (extraction 2025-11-20): DQ01 (3 of 4 voksen decisions
without deadline, 1 the previous run) owned by both owners; DQ02 (1 of 4 voksen decisions in
the future, also 1 the previous run) owned by anna only; DQ04 (2 of 2 voksen services
without start date, not in the previous run) owned by bo only.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import socket

import pytest
from aiosmtpd.controller import Controller

from etl.core.privacy import CprInOutputError, contains_cpr
from etl.quality.alerts import (
    assert_no_cpr,
    build_owner_emails,
    build_owner_emails_from_breaches,
    send_emails,
)
from etl.quality.runner import run_rules

ANNA, BO = "anna@sofli.example", "bo@sofli.example"
RUN_ID = "scheduled__2025-11-20T01:00:00+00:00"
RUN_URL = "http://airflow.example/dags/sofli_quality/runs/scheduled__2025-11-20T01:00:00+00:00?a=1&b=<2>"


@pytest.fixture
def outcome(make_model, rule_config):
    decision = {"source": "voksen", "case_key": "voksen:c", "citizen_key": "p", "outcome": "Bevilget",
                "paragraph_text": "SEL §107", "area": "Voksne"}
    service = {"source": "voksen", "case_key": "voksen:c", "citizen_key": "p", "paragraph_text": "SEL §85",
               "area": "Voksne"}
    config = {
        "DQ01": rule_config("DQ01", "rate", 0.05, "error", owners=(ANNA, BO), title="Afgørelser <uden> frist"),
        "DQ02": rule_config("DQ02", "count", 0, "error", owners=(ANNA,), title="Afgørelser i fremtiden"),
        "DQ04": rule_config("DQ04", "rate", 0.02, "warning", owners=(BO,), title="Ydelser uden opstartsdato"),
    }

    def model(deadlines: list[str | None], dates: list[str]):
        return make_model(
            fact_decision=[{**decision, "decision_key": f"voksen:{i}", "decision_id": str(i),
                            "decision_date": date, "deadline_date": deadline}
                           for i, (deadline, date) in enumerate(zip(deadlines, dates))],
            fact_service=[{**service, "service_key": "voksen:1", "service_id": "1"},
                          {**service, "service_key": "voksen:2", "service_id": "2"}])

    previous = run_rules(model(["2025-09-01", "2025-09-01", "2025-09-01", None],
                               ["2025-08-01"] * 3 + ["2025-12-01"]),
                         {k: c for k, c in config.items() if k != "DQ04"}, "run-0", dt.datetime(2025, 11, 19, 3))
    return run_rules(model([None, None, None, "2025-09-01"], ["2025-08-01"] * 3 + ["2025-12-01"]),
                     config, RUN_ID, dt.datetime(2025, 11, 20, 3), previous=previous.dq_result)


def parts(message) -> tuple[str, str]:
    """(plain text, html) of a multipart/alternative message."""
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free local port, collecting what it receives."""

    class Collector:
        def __init__(self):
            self.received = []

        async def handle_DATA(self, server, session, envelope):
            self.received.append((envelope.rcpt_tos, envelope.content))
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Collector()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, port
    controller.stop()


@pytest.mark.parametrize("text", ["010203-1234", "0102031234", "102031234", "010203-9AB1",
                                  "borger 010203-1234 i teksten"])
def test_cpr_guard_raises(text):
    with pytest.raises(CprInOutputError) as error:
        assert_no_cpr(text)
    assert "1234" not in str(error.value)


@pytest.mark.parametrize("text", [RUN_ID, "3 af 4 rækker (75,0 %)", "enhed 4010101", "2025-11-20 01:00"])
def test_cpr_guard_lets_ordinary_text_pass(text):
    assert_no_cpr(text)


def test_one_email_per_owner_with_exactly_their_rules(outcome):
    messages = build_owner_emails(outcome, RUN_ID, RUN_URL, "mart.dq_failure", "sofli@sofli.example")
    assert [(m["To"], m["Subject"]) for m in messages] == [
        (ANNA, f"[sofli] 2 datakvalitetsregler overskredet (run {RUN_ID})"),
        (BO, f"[sofli] 2 datakvalitetsregler overskredet (run {RUN_ID})"),
    ]
    anna_text, anna_html = parts(messages[0])
    bo_text, bo_html = parts(messages[1])
    assert "DQ01 Afgørelser <uden> frist" in anna_text and "DQ02 Afgørelser i fremtiden" in anna_text
    assert "DQ04" not in anna_text
    assert "DQ01" in bo_text and "DQ04 Ydelser uden opstartsdato" in bo_text and "DQ02" not in bo_text
    assert "  Fejlende: 3 af 4 rækker (75,0 %)" in anna_text
    assert "  Tærskel: højst 5,0 % fejlende rækker" in anna_text
    assert "  Udvikling: +2 siden sidste kørsel" in anna_text
    assert "  Fejlende: 1 af 4 rækker (25,0 %)" in anna_text and "  Udvikling: uændret" in anna_text
    assert "  Tærskel: højst 0 fejlende rækker" in anna_text
    assert "  Fejlende: 2 af 2 rækker (100,0 %)" in bo_text and "  Udvikling: ny" in bo_text
    assert "  Alvorlighed: advarsel" in bo_text and "  Alvorlighed: fejl" in bo_text
    assert (f"  Fejlende id'er: mart.dq_failure WHERE run_id='{RUN_ID}' AND rule_id='DQ04' "
            "AND source='voksen'") in bo_text
    assert f"Kørslen: {RUN_URL}" in bo_text
    # HTML: the same facts, everything escaped
    assert "Afgørelser &lt;uden&gt; frist" in anna_html and "<uden>" not in anna_html
    assert "a=1&amp;b=&lt;2&gt;" in anna_html and "rule_id=&#x27;DQ02&#x27;" in anna_html
    assert "+2 siden sidste kørsel" in anna_html and "DQ04" not in anna_html


def test_breaches_passed_as_json_give_the_same_emails(outcome):
    """The alert task gets the breaches through XCom as JSON, not as objects."""
    as_json = json.loads(json.dumps([b.__dict__ for b in outcome.breaches]))
    from_json = build_owner_emails_from_breaches(as_json, RUN_ID, RUN_URL, "sofli@sofli.example")
    direct = build_owner_emails(outcome, RUN_ID, RUN_URL, "mart.dq_failure", "sofli@sofli.example")
    assert [(m["To"], m["Subject"], *parts(m)) for m in from_json] == [
        (m["To"], m["Subject"], *parts(m)) for m in direct]


def test_no_email_when_nothing_breached(outcome):
    quiet = type(outcome)(outcome.dq_rule, outcome.dq_result, outcome.dq_failure, [])
    assert build_owner_emails(quiet, RUN_ID, RUN_URL, "mart.dq_failure", "sofli@sofli.example") == []


def test_a_cpr_shaped_value_stops_the_email(outcome):
    with pytest.raises(CprInOutputError):
        build_owner_emails(outcome, "manual__0102031234", RUN_URL, "mart.dq_failure", "sofli@sofli.example")


def test_delivered_through_smtp_one_per_owner_without_cpr(outcome, smtp_server):
    handler, port = smtp_server
    messages = build_owner_emails(outcome, RUN_ID, RUN_URL, "mart.dq_failure", "sofli@sofli.example")
    assert send_emails(messages, "127.0.0.1", port, timeout=5) == 2
    assert sorted(rcpt for rcpt, _ in handler.received) == [[ANNA], [BO]]
    for rcpt, content in handler.received:
        received = email.message_from_bytes(content, policy=email.policy.default)
        assert received.get_content_type() == "multipart/alternative"
        text, html_body = parts(received)
        rules = {line.split()[0] for line in text.splitlines() if line.startswith("DQ")}
        assert rules == ({"DQ01", "DQ02"} if rcpt == [ANNA] else {"DQ01", "DQ04"})
        assert "<table" in html_body
        for body in (received["Subject"], text, html_body, content.decode("ascii")):
            assert not contains_cpr(body)


def test_sending_nothing_opens_no_connection():
    assert send_emails([], "127.0.0.1", 1) == 0
