"""The data-quality page of the Airflow UI, rendered from a real SQLite warehouse."""

from __future__ import annotations

import datetime as dt
import re

import pandas as pd
import pytest
import sqlalchemy as sa

from etl.ops.status_page import (
    failures_page,
    load_status,
    render_status_page,
    sparkline,
    status_page,
    warehouse_label,
)
from etl.publish.marts import DATA_FRESHNESS, DQ_FAILURE, DQ_RESULT, DQ_RULE, SOURCE_FRESHNESS
from etl.publish.warehouse import ensure_schema, make_engine, publish


def dq_results(run_id: str, computed_at: dt.datetime, failing: dict[tuple[str, str], int],
               previous: dict[tuple[str, str], int] | None = None) -> pd.DataFrame:
    rows = []
    for (rule, source), n in failing.items():
        threshold = 0.05 if rule == "DQ01" else 0.0
        rate = n / 100
        breach = rate > threshold if rule == "DQ01" else n > threshold
        rows.append({"run_id": run_id, "run_date": computed_at.date(), "computed_at": computed_at, "rule_id": rule,
                     "source": source, "dimension": None, "dimension_value": None, "population": 100, "failing": n,
                     "rate": rate, "threshold_kind": "rate" if rule == "DQ01" else "count", "threshold": threshold,
                     "severity": "error" if rule != "DQ05" else "warning", "status": "breach" if breach else "pass",
                     "previous_failing": (previous or {}).get((rule, source))})
        # a breakdown row: never on the page (totals only)
        rows.append({**rows[-1], "dimension": "case_type", "dimension_value": "x", "failing": 999, "status": None})
    return pd.DataFrame(rows)


@pytest.fixture
def warehouse(tmp_path):
    url = f"sqlite:///{tmp_path}/warehouse/warehouse.db"
    engine = make_engine(url)
    ensure_schema(engine)
    publish(engine, "mart", DQ_RULE, pd.DataFrame([
        {"rule_id": "DQ01", "title": "Afgørelser uden frist <script>alert(1)</script>", "description": "",
         "severity": "error", "threshold_kind": "rate", "threshold": 0.05, "owners": "a@x", "sources": "boern"},
        {"rule_id": "DQ05", "title": "Ugyldigt CPR", "description": "", "severity": "warning",
         "threshold_kind": "count", "threshold": 0, "owners": "a@x", "sources": "boern,klage"}]))
    base = dt.datetime(2025, 11, 13, 4, 0)
    runs = [("night-1", {("DQ01", "boern"): 9, ("DQ05", "klage"): 0}),
            ("night-2", {("DQ01", "boern"): 7, ("DQ05", "klage"): 2}),
            ("night-3", {("DQ01", "boern"): 3, ("DQ05", "klage"): 2, ("DQ05", "boern"): 1})]
    previous = None
    for i, (run_id, failing) in enumerate(runs):
        publish(engine, "mart", DQ_RESULT, dq_results(run_id, base + dt.timedelta(days=i), failing, previous),
                {"run_id": run_id})
        previous = failing
    checked = base + dt.timedelta(days=2, minutes=5)
    publish(engine, "mart", SOURCE_FRESHNESS, pd.DataFrame([
        {"source": "boern", "last_success_at": checked - dt.timedelta(hours=3), "extract_date": checked.date(),
         "rows": 1234, "age_hours": 3.0, "days_behind": 0, "stale": False, "checked_at": checked},
        {"source": "klage", "last_success_at": checked - dt.timedelta(hours=51), "extract_date": checked.date() -
         dt.timedelta(days=2), "rows": 55, "age_hours": 51.0, "days_behind": 2, "stale": True, "checked_at": checked}]))
    yield url, engine
    engine.dispose()


def test_latest_status_per_rule_and_source_with_its_trend(warehouse):
    _, engine = warehouse
    status = load_status(engine)
    assert status["error"] is None
    assert status["latest"]["run_id"] == "night-3"
    assert (status["latest"]["errors"], status["latest"]["warnings"]) == (0, 2)
    rules = {(r["rule_id"], r["source"]): r for r in status["rules"]}
    assert set(rules) == {("DQ01", "boern"), ("DQ05", "klage"), ("DQ05", "boern")}  # totals of the latest run only
    assert rules[("DQ01", "boern")]["trend"] == [9, 7, 3]
    assert rules[("DQ01", "boern")]["change"] == -4 and rules[("DQ01", "boern")]["status"] == "pass"
    assert rules[("DQ05", "boern")]["trend"] == [1] and rules[("DQ05", "boern")]["change"] is None
    assert [r["run_id"] for r in status["runs"]] == ["night-3", "night-2", "night-1"]
    assert [r["errors"] for r in status["runs"]] == [0, 1, 1]
    fresh = {f["source"]: f for f in status["freshness"]}
    assert fresh["klage"]["stale"] and fresh["klage"]["days_behind"] == 2 and not fresh["boern"]["stale"]


def test_history_is_limited_to_the_last_runs(warehouse):
    _, engine = warehouse
    status = load_status(engine, history_runs=2)
    assert [r["run_id"] for r in status["runs"]] == ["night-3", "night-2"]
    assert {(r["rule_id"], r["source"]): r["trend"] for r in status["rules"]}[("DQ01", "boern")] == [7, 3]


def test_the_page_shows_status_trend_and_freshness_escaped(warehouse):
    url, _ = warehouse
    page = status_page(url)
    assert "Latest run <b>night-3</b>" in page
    assert re.search(r'data-rule="DQ01" data-source="boern" data-status="pass">.*?▼ -4', page, re.S)
    assert page.count("<svg") == 3 and "9 → 7 → 3" in page
    assert 'data-source="klage"><td>klage</td>\n<td><span class="badge stale">stale</span>' in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # titles are data, never markup
    assert "999" not in page  # breakdown rows are not the rule's status


def test_each_source_says_when_the_published_figures_were_updated_and_by_which_run(warehouse):
    url, engine = warehouse
    assert "Opdateret kl." not in status_page(url)  # no KPI publication yet: nothing claimed
    publish(engine, "mart", DATA_FRESHNESS, pd.DataFrame([
        {"source": "boern", "extract_date": dt.date(2025, 11, 15), "refreshed_at": dt.datetime(2025, 11, 15, 10, 32, 7),
         "kind": "daytime", "kpi_run_id": "refresh-1", "published_at": dt.datetime(2025, 11, 15, 10, 34)},
        {"source": "klage", "extract_date": dt.date(2025, 11, 13), "refreshed_at": dt.datetime(2025, 11, 13, 1, 5),
         "kind": "night", "kpi_run_id": "refresh-1", "published_at": dt.datetime(2025, 11, 15, 10, 34)}]))
    page = status_page(url)
    boern = re.search(r'<tr data-source="boern">.*?</tr>', page, re.S).group(0)
    klage = re.search(r'<tr data-source="klage">.*?</tr>', page, re.S).group(0)
    assert '<td class="figures">Opdateret kl. 10.32 (dagtid, 15.11.2025)</td>' in boern
    assert '<td class="figures">Opdateret kl. 01.05 (nat, 13.11.2025)</td>' in klage


def test_an_empty_or_missing_warehouse_says_so(tmp_path):
    empty = f"sqlite:///{tmp_path}/empty/warehouse.db"
    engine = make_engine(empty)
    ensure_schema(engine)
    engine.dispose()
    assert 'id="dq-empty"' in status_page(empty)
    page = status_page(f"sqlite:///{tmp_path}/missing/warehouse.db")
    assert 'id="dq-error"' in page and "no such table" in page


def test_credentials_never_reach_the_page():
    url = sa.engine.URL.create("postgresql+psycopg2", "sofli_pipeline", "s3cret", "db", database="warehouse")
    label = warehouse_label(url.render_as_string(hide_password=False))
    page = render_status_page({"error": "x", "latest": None, "rules": [], "runs": [], "freshness": []}, label)
    assert "s3cret" not in page and "db/warehouse" in page


def test_sparkline_marks_the_latest_value():
    svg = sparkline([4, 2, 0])
    assert svg.startswith("<svg") and 'aria-label="4 → 2 → 0"' in svg and "<circle" in svg
    assert sparkline([]) == ""


OWNERS = {("DQ01", "boern"): ("dq-boern@sofli.example",), ("DQ05", "klage"): ("dq-jura@sofli.example",),
          ("DQ05", "boern"): ("dq-boern@sofli.example", "dq-data@sofli.example")}


def owners_of(rule: str, source: str) -> tuple[str, ...]:
    return OWNERS[(rule, source)]


def rows_of(page: str) -> list[tuple[str, str, str]]:
    """(rule, source, status) of the rules table's rows, in page order."""
    return re.findall(r'<tr class="[^"]*" data-rule="(\w+)" data-source="(\w+)" data-status="(\w*)">', page)


def test_breaches_come_first_errors_before_warnings(warehouse):
    url, engine = warehouse
    # a fourth run with an error breach beside the two warning breaches
    publish(engine, "mart", DQ_RESULT, dq_results("night-4", dt.datetime(2025, 11, 17, 4),
                                                  {("DQ01", "boern"): 12, ("DQ05", "klage"): 2, ("DQ05", "boern"): 0}),
            {"run_id": "night-4"})
    assert rows_of(status_page(url)) == [("DQ01", "boern", "breach"), ("DQ05", "klage", "breach"),
                                         ("DQ05", "boern", "pass")]


def test_the_filters_narrow_by_status_owner_and_source(warehouse):
    url, _ = warehouse
    everything = status_page(url, owners_of=owners_of)
    assert rows_of(everything) == [("DQ05", "boern", "breach"), ("DQ05", "klage", "breach"), ("DQ01", "boern", "pass")]
    assert rows_of(status_page(url, status_filter="breach", owners_of=owners_of)) == [
        ("DQ05", "boern", "breach"), ("DQ05", "klage", "breach")]
    assert rows_of(status_page(url, status_filter="pass", owners_of=owners_of)) == [("DQ01", "boern", "pass")]
    assert rows_of(status_page(url, owner="dq-boern@sofli.example", owners_of=owners_of)) == [
        ("DQ05", "boern", "breach"), ("DQ01", "boern", "pass")]
    assert rows_of(status_page(url, owner="dq-jura@sofli.example", owners_of=owners_of)) == [
        ("DQ05", "klage", "breach")]
    assert rows_of(status_page(url, source="klage", owners_of=owners_of)) == [("DQ05", "klage", "breach")]
    combined = status_page(url, status_filter="breach", owner="dq-boern@sofli.example", source="boern",
                           owners_of=owners_of)
    assert rows_of(combined) == [("DQ05", "boern", "breach")]
    assert "1 af 3 rule × source checks vist" in combined
    # the form offers every owner and source, and keeps the chosen ones selected
    assert '<option value="dq-data@sofli.example" >' in everything
    assert '<option value="boern" selected>' in combined and '<option value="breach" selected>' in combined
    assert rows_of(status_page(url, status_filter="bogus", owners_of=owners_of)) == rows_of(everything)
    # without the configuration at hand, a rule's owners are mart.dq_rule's
    assert len(rows_of(status_page(url, owner="a@x"))) == 3


def test_unit_breakdown_danish_numbers_and_a_link_to_the_failing_records(warehouse):
    url, engine = warehouse
    base = {"run_id": "night-3", "run_date": dt.date(2025, 11, 15), "computed_at": dt.datetime(2025, 11, 15, 4),
            "rule_id": "DQ05", "source": "klage", "dimension": "unit", "threshold_kind": "count", "threshold": 0.0,
            "severity": "warning", "status": None, "previous_failing": None}
    units = pd.DataFrame([{**base, "dimension_value": "4010101", "population": 12345, "failing": 1234,
                           "rate": 1234 / 12345},
                          {**base, "dimension_value": "4020202", "population": 80, "failing": 2, "rate": 0.025}])
    totals = dq_results("night-3", dt.datetime(2025, 11, 15, 4),
                        {("DQ01", "boern"): 3, ("DQ05", "klage"): 2, ("DQ05", "boern"): 1},
                        {("DQ01", "boern"): 7, ("DQ05", "klage"): 2})
    publish(engine, "mart", DQ_RESULT, pd.concat([totals, units[DQ_RESULT.column_names]], ignore_index=True),
            {"run_id": "night-3"})
    page = status_page(url, source="klage", owners_of=owners_of)
    assert re.search(r'<tr data-unit="4010101"><td>4010101</td><td class="num">1.234 af 12.345</td>\s*'
                     r'<td class="num">10,0 %</td>', page)
    assert page.index('data-unit="4010101"') < page.index('data-unit="4020202"')  # most failing first
    assert '<a class="records" href="failures?run_id=night-3&amp;rule=DQ05&amp;source=klage">2 rækker</a>' in page
    assert '<td class="num">2,00 %</td>' in page  # DQ05 klage: 2 of 100, Danish decimal comma

    publish(engine, "mart", DQ_FAILURE, pd.DataFrame([
        {"run_id": "night-3", "rule_id": "DQ05", "source": "klage", "source_table": "klage", "record_id": "K-2",
         "detail": "CPR mangler", "case_number": "BS-2025-000123", "unit_code": "4010101"},
        {"run_id": "night-3", "rule_id": "DQ05", "source": "klage", "source_table": "klage", "record_id": "0101901234",
         "detail": None, "case_number": None, "unit_code": "4020202"}]), {"run_id": "night-3"})
    records = failures_page(url, "night-3", "DQ05", "klage")
    assert "Kørsel night-3: 2 fejlende rækker." in records
    assert "<td>K-2</td><td>BS-2025-000123</td>\n<td>4010101</td><td>CPR mangler</td>" in records
    # a synthetic CPR as an id: publishing to mart already masked it (the CPR guard), and the
    # page would mask what reached it any other way
    assert "0101901234" not in records and "[CPR fjernet]" in records
