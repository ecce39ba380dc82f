"""The daily digest of repeated breaches, blocking rules and the KPI flags they raise."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd

from etl.core.settings import Settings
from etl.kpi import CATALOG
from etl.publish.marts import DQ_KPI_FLAG
from etl.quality.alerts import load_mail_log, save_mail_log, select_breaches_to_mail
from etl.quality.flags import blocked_sources, blocking_breaches, flag_kpis, stale_sources
from etl.quality.runner import Breach
from etl.tasks import quality as dq_tasks

DAY = dt.date(2025, 11, 21)


def breach(rule_id="DQ10", source="cpr", failing=1, notify="daily_digest", severity="error", blocking=True,
           owners=("a@sofli.example", "b@sofli.example")) -> Breach:
    return Breach(rule_id, f"Regel {rule_id}", "Ret det.", source, failing, 10, failing / 10, "count", 0.0,
                  severity, owners, None, blocking=blocking, notify=notify)


def mailed(selected) -> list[tuple]:
    return [(b.rule_id, b.source, b.owners) for b in selected]


def test_digest_unchanged_not_remailed_same_day_changed_mailed_next_day_mailed():
    first, log = select_breaches_to_mail([breach()], {}, DAY)
    assert mailed(first) == [("DQ10", "cpr", ("a@sofli.example", "b@sofli.example"))]
    again, log = select_breaches_to_mail([breach()], log, DAY)  # same day, same count
    assert again == []
    changed, log = select_breaches_to_mail([breach(failing=2)], log, DAY)
    assert mailed(changed) == [("DQ10", "cpr", ("a@sofli.example", "b@sofli.example"))]
    next_day, log = select_breaches_to_mail([breach(failing=2)], log, DAY + dt.timedelta(days=1))
    assert mailed(next_day) == [("DQ10", "cpr", ("a@sofli.example", "b@sofli.example"))]
    assert log[("DQ10", "cpr", "a@sofli.example")] == {"last_mailed": "2025-11-22", "failing": 2}


def test_immediate_rules_always_mailed_and_new_owner_gets_it():
    _, log = select_breaches_to_mail([breach(notify="immediate"), breach("DQ13", "boern", severity="warning",
                                                                         owners=("a@sofli.example",))], {}, DAY)
    selected, _ = select_breaches_to_mail(
        [breach(notify="immediate"),
         breach("DQ13", "boern", severity="warning", owners=("a@sofli.example", "c@sofli.example"))], log, DAY)
    assert mailed(selected) == [("DQ10", "cpr", ("a@sofli.example", "b@sofli.example")),
                                ("DQ13", "boern", ("c@sofli.example",))]


def test_cleared_breach_leaves_the_log_and_returns_as_new():
    _, log = select_breaches_to_mail([breach()], {}, DAY)
    _, log = select_breaches_to_mail([], log, DAY)
    assert log == {}
    back, _ = select_breaches_to_mail([breach()], log, DAY)
    assert len(back) == 1


def test_mail_log_round_trip_and_dict_breaches(tmp_path):
    path = tmp_path / "dq" / "mail_log.json"
    assert load_mail_log(path) == {}
    as_dict = {**breach().__dict__, "owners": ["a@sofli.example"]}
    _, log = select_breaches_to_mail([as_dict], {}, DAY)
    save_mail_log(path, log)
    assert load_mail_log(path) == {("DQ10", "cpr", "a@sofli.example"): {"last_mailed": "2025-11-21", "failing": 1}}
    again, _ = select_breaches_to_mail([as_dict], load_mail_log(path), DAY)
    assert again == []


def test_blocked_sources_from_blocking_breaches():
    breaches = [breach("DQ02", "boern"), breach("DQ10", "boern"), breach("DQ06", "hr", severity="warning",
                                                                         blocking=False),
                breach("DQ13", "voksen", severity="warning", blocking=True)]
    assert blocked_sources(breaches) == {"boern", "voksen"}
    assert blocking_breaches(breaches) == {"boern": ["DQ02@boern", "DQ10@boern"], "voksen": ["DQ13@voksen"]}
    # plain dicts from XCom: without `blocking`, error severity blocks
    assert blocked_sources([{"rule_id": "DQ02", "source": "boern", "severity": "error"},
                            {"rule_id": "DQ06", "source": "hr", "severity": "warning"}]) == {"boern"}


def test_flag_kpis_lists_blocking_rules_per_kpi():
    values = pd.DataFrame({"kpi_id": ["T1.01", "T1.01", "T2.01", "T5.01", "T3.05"]})
    flags = flag_kpis(values, {"cpr": ["DQ10@cpr"], "boern": ["DQ02@boern"]}, "run-7",
                      dt.datetime(2025, 11, 21, 3))
    assert list(flags.columns) == DQ_KPI_FLAG.column_names
    assert flags[["kpi_id", "blocked_by"]].values.tolist() == [["T1.01", "DQ02@boern,DQ10@cpr"],
                                                               ["T2.01", "DQ02@boern"]]
    assert set(flags["run_id"]) == {"run-7"}
    assert flag_kpis(values, {"hr"}, "r", dt.datetime(2025, 1, 1))["kpi_id"].tolist() == ["T5.01"]
    assert flag_kpis(values, set(), "r", dt.datetime(2025, 1, 1)).empty


def test_flags_follow_the_catalogue_lineage(monkeypatch):
    values = pd.DataFrame({"kpi_id": ["T3.05", "T9.99"]})
    # T3.05 is built on klage alone; a KPI the catalogue does not know is flagged by every blocked source
    flags = flag_kpis(values, {"boern": ["DQ02@boern"]}, "r", dt.datetime(2025, 1, 1))
    assert flags[["kpi_id", "blocked_by"]].values.tolist() == [["T9.99", "DQ02@boern"]]
    monkeypatch.setitem(CATALOG, "T3.05", replace(CATALOG["T3.05"], sources=frozenset({"klage", "boern"})))
    flags = flag_kpis(values, {"boern": ["DQ02@boern"]}, "r", dt.datetime(2025, 1, 1))
    assert flags["kpi_id"].tolist() == ["T3.05", "T9.99"]


def test_pipeline_digest_sender_keeps_the_mail_log(tmp_path, monkeypatch):
    sent = []
    monkeypatch.setattr("etl.quality.alerts.send_emails", lambda messages, **smtp: sent.extend(messages))
    summary = {"run_id": "run-1", "breaches": [{**breach().__dict__, "owners": ["a@sofli.example"]}]}
    settings = Settings(tmp_path, tmp_path, "demo")
    first = dq_tasks.send_dq_alerts(summary, {}, settings, today=DAY)
    second = dq_tasks.send_dq_alerts({**summary, "run_id": "run-2"}, {}, settings, today=DAY)
    assert (first["emails"], second["emails"], len(sent)) == (1, 0, 1)
    assert (tmp_path / "dq" / "mail_log.json").exists()


def test_a_stale_source_flags_the_kpis_reading_it_with_the_publish_run():
    values = pd.DataFrame({"kpi_id": ["T3.05", "T3.05", "T2.01", "T1.01"], "run_id": ["kpi-run-3"] * 4})
    flags = flag_kpis(values, {"klage": ["DQ10@klage"]}, "dq-run-3", dt.datetime(2026, 3, 10, 5, 30),
                      stale={"klage"})
    assert flags[["kpi_id", "blocked_by", "stale", "stale_sources", "kpi_run_id"]].values.tolist() == [
        ["T3.05", "DQ10@klage", True, "klage", "kpi-run-3"]]  # T3.05 is the only KPI reading klage
    # DQ10 configured not to block: the KPI is still marked stale, with nothing blocking it
    flags = flag_kpis(values, {"boern": ["DQ02@boern"]}, "dq-run-4", dt.datetime(2026, 3, 10, 5, 30),
                      stale={"cpr"})
    assert flags[["kpi_id", "blocked_by", "stale"]].values.tolist() == [
        ["T1.01", "DQ02@boern", True], ["T2.01", "DQ02@boern", False]]
    assert flags["stale_sources"].iloc[0] == "cpr" and pd.isna(flags["stale_sources"].iloc[1])


def test_the_stale_sources_are_dq10_s_breaches_only():
    assert stale_sources([breach("DQ10", "klage", blocking=False), breach("DQ02", "boern"),
                          {"rule_id": "DQ10", "source": "cpr", "severity": "error"}]) == {"klage", "cpr"}
