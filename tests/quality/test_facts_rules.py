"""DQ10 (forældet kilde) and DQ13 (store udsving) on hand-built run facts."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.quality.facts import FRESHNESS_COLUMNS, KPI_TOTAL_COLUMNS, ROW_COUNT_COLUMNS, RunFacts, is_stale
from etl.quality.rules import swing_share
from etl.quality.runner import run_rules

COMPUTED_AT = dt.datetime(2025, 11, 21, 14, 0)


def freshness(*rows: dict) -> pd.DataFrame:
    """Freshness rows as `etl.quality.facts.source_freshness` makes them (stale by `is_stale`)."""
    defaults = {"kind": "database", "stale_after_days": 0, "expected_file": None, "file_present": None,
                "age_hours": 1.0, "checked_at": COMPUTED_AT}
    rows = [{**defaults, **row} for row in rows]
    for row in rows:
        row["stale"] = is_stale(row.get("days_behind"), row["stale_after_days"])
    return pd.DataFrame(rows, columns=FRESHNESS_COLUMNS)


def counts(*rows: tuple[str, str, int]) -> pd.DataFrame:
    return pd.DataFrame([{"source": s, "table": t, "extract_date": "2025-11-20", "rows": n} for s, t, n in rows],
                        columns=ROW_COUNT_COLUMNS)


def kpis(*rows: tuple) -> pd.DataFrame:
    """(kpi_id, measure, period, value[, provisional]) as quarter SOF totals."""
    return pd.DataFrame([{"kpi_id": r[0], "measure": r[1], "period_type": "quarter", "period": r[2],
                          "value": r[3], "provisional": r[4] if len(r) > 4 else False} for r in rows],
                        columns=KPI_TOTAL_COLUMNS)


def facts(**parts) -> RunFacts:
    return RunFacts(COMPUTED_AT, parts.pop("freshness", freshness()), parts.pop("row_counts", counts()), **parts)


def totals(outcome) -> dict:
    rows = outcome.dq_result[outcome.dq_result["dimension"].isna()]
    return {(r.rule_id, r.source): (r.population, r.failing, r.status) for r in rows.itertuples()}


def failures(outcome) -> dict:
    return {(r.source, r.record_id): r.detail for r in outcome.dq_failure.itertuples()}


# --- DQ10 ------------------------------------------------------------------------------

@pytest.fixture
def dq10(rule_config):
    return {"DQ10": rule_config("DQ10", "count", 0, "error", sources=("boern", "voksen", "tilbud", "cpr"))}


def test_dq10_stale_when_behind_the_nights_date_and_missing_file(make_model, dq10):
    run = facts(freshness=freshness(
        {"source": "boern", "extract_date": dt.date(2025, 11, 20), "days_behind": 0, "age_hours": 47.0},  # tonight's
        {"source": "voksen", "extract_date": dt.date(2025, 11, 19), "days_behind": 1, "age_hours": 0.02},  # yesterday's
        {"source": "tilbud", "extract_date": None, "days_behind": None, "age_hours": None},  # never extracted
        {"source": "cpr", "kind": "file", "extract_date": dt.date(2025, 11, 20), "days_behind": 0,
         "expected_file": "cpr_20251120.csv", "file_present": False}))
    outcome = run_rules(make_model(), dq10, "r", COMPUTED_AT, facts=run)
    assert totals(outcome) == {("DQ10", "boern"): (1, 0, "pass"), ("DQ10", "cpr"): (1, 1, "breach"),
                               ("DQ10", "tilbud"): (1, 1, "breach"), ("DQ10", "voksen"): (1, 1, "breach")}
    assert failures(outcome) == {
        ("cpr", "cpr"): "forventet fil cpr_20251120.csv mangler i drop-mappen",
        ("tilbud", "tilbud"): "intet gennemført udtræk",
        ("voksen", "voksen"): "seneste gode udtræk er fra 2025-11-19, 1 dag bag nattens udtræksdato (tilladt: 0 dage)",
    }
    assert [(b.rule_id, b.source, b.blocking) for b in outcome.error_breaches] == [
        ("DQ10", "voksen", True), ("DQ10", "tilbud", True), ("DQ10", "cpr", True)]
    breakdown = outcome.dq_result[outcome.dq_result["dimension"] == "freshness"]
    assert dict(zip(breakdown["source"], breakdown["dimension_value"])) == {
        "boern": "fresh", "cpr": "missing_file", "tilbud": "stale", "voksen": "stale"}


def test_dq10_present_file_and_a_source_allowance_in_days(make_model, dq10):
    run = facts(freshness=freshness(
        {"source": "cpr", "kind": "file", "extract_date": dt.date(2025, 11, 20), "days_behind": 0,
         "expected_file": "cpr_20251120.csv", "file_present": True},
        {"source": "boern", "extract_date": dt.date(2025, 11, 18), "days_behind": 2, "stale_after_days": 2},
        {"source": "voksen", "extract_date": dt.date(2025, 11, 17), "days_behind": 3, "stale_after_days": 2},
        {"source": "tilbud", "kind": "file", "extract_date": dt.date(2025, 11, 19), "days_behind": 1,
         "expected_file": "x_20251120.csv", "file_present": False}))
    outcome = run_rules(make_model(), dq10, "r", COMPUTED_AT, facts=run)
    assert totals(outcome) == {("DQ10", "cpr"): (1, 0, "pass"), ("DQ10", "boern"): (1, 0, "pass"),
                               ("DQ10", "voksen"): (1, 1, "breach"), ("DQ10", "tilbud"): (1, 1, "breach")}
    assert failures(outcome) == {
        ("voksen", "voksen"): "seneste gode udtræk er fra 2025-11-17, 3 dage bag nattens udtræksdato (tilladt: 2 dage)",
        ("tilbud", "tilbud"): "seneste gode udtræk er fra 2025-11-19, 1 dag bag nattens udtræksdato (tilladt: 0 dage); "
                              "forventet fil x_20251120.csv mangler i drop-mappen"}
    breakdown = outcome.dq_result[outcome.dq_result["dimension"] == "freshness"]
    assert dict(zip(breakdown["source"], breakdown["dimension_value"]))["tilbud"] == "stale_and_missing_file"


def test_rules_needing_facts_report_nothing_without_them(make_model, dq10, rule_config):
    config = {**dq10, "DQ13": rule_config("DQ13", "count", 0, "warning")}
    outcome = run_rules(make_model(), config, "r", COMPUTED_AT)
    assert outcome.dq_rule["rule_id"].tolist() == ["DQ10", "DQ13"]
    assert outcome.dq_result.empty and outcome.dq_failure.empty and outcome.breaches == []


# --- DQ13 ------------------------------------------------------------------------------

@pytest.fixture
def dq13(rule_config):
    return {"DQ13": rule_config("DQ13", "count", 0, "warning", sources=("boern", "voksen", "kpi"))}


def test_swing_share_exact_values():
    assert swing_share(100, 125) == 0.25
    assert swing_share(80, 100) == 0.25
    assert swing_share(0, 0) == 0.0 and swing_share(0, 3) == float("inf")
    assert swing_share(None, 3) is None and swing_share(float("nan"), 3) is None


def test_dq13_swing_at_the_share_passes_above_fails(make_model, dq13):
    run = facts(
        row_counts=counts(("boern", "Barn", 125), ("boern", "Sag", 74), ("voksen", "borger", 126),
                          ("voksen", "sag", 10)),
        previous_row_counts=counts(("boern", "Barn", 100), ("boern", "Sag", 100), ("voksen", "borger", 100)),
        kpi_totals=kpis(("T1.01", "count", "2025-Q3", 100.0), ("T2.01", "count", "2025-Q3", 20.0),
                        ("T2.01", "count", "2025-Q4", 1.0, True), ("T5.01", "count", "2025-Q3", 1.0)),
        previous_kpi_totals=kpis(("T1.01", "count", "2025-Q3", 80.0), ("T2.01", "count", "2025-Q3", 40.0),
                                 ("T2.01", "count", "2025-Q4", 500.0, True), ("T5.01", "count", "2025-Q3", 9.0)))
    outcome = run_rules(make_model(), dq13, "r", COMPUTED_AT, facts=run)
    # Barn +25 % exactly: pass; Sag -26 %: fail; borger +26 %: fail; sag (new table): no previous
    # T1.01 +25 %: pass; T2.01 -50 %: fail; the provisional Q4 and the non-key T5.01 are not compared
    assert totals(outcome) == {("DQ13", "boern"): (2, 1, "breach"), ("DQ13", "kpi"): (2, 1, "breach"),
                               ("DQ13", "voksen"): (2, 1, "breach")}
    assert failures(outcome) == {
        ("boern", "Sag"): "forrige 100 → nu 74 (-26,0 %)",
        ("voksen", "borger"): "forrige 100 → nu 126 (+26,0 %)",
        ("kpi", "T2.01/count"): "quarter 2025-Q3: forrige 40 → nu 20 (-50,0 %)",
    }
    assert set(outcome.dq_failure.loc[outcome.dq_failure["source"] == "kpi", "source_table"]) == {"mart.kpi_value"}


def test_dq13_configured_share_and_key_kpis(make_model, rule_config):
    config = {"DQ13": rule_config("DQ13", "count", 0, "warning", sources=("kpi",))}
    config["DQ13"] = type(config["DQ13"])(**{**config["DQ13"].__dict__,
                                             "params": {"max_swing": 0.5, "key_kpis": ["T5.01"]}})
    run = facts(kpi_totals=kpis(("T2.01", "count", "2025-Q3", 20.0), ("T5.01", "count", "2025-Q3", 3.0)),
                previous_kpi_totals=kpis(("T2.01", "count", "2025-Q3", 40.0), ("T5.01", "count", "2025-Q3", 2.0)))
    outcome = run_rules(make_model(), config, "r", COMPUTED_AT, facts=run)
    assert totals(outcome) == {("DQ13", "kpi"): (1, 0, "pass")}  # T5.01 +50 % at the share; T2.01 not key


def test_dq13_first_run_reports_population_without_failure(make_model, dq13):
    run = facts(row_counts=counts(("boern", "Barn", 125), ("voksen", "borger", 3)),
                kpi_totals=kpis(("T1.01", "count", "2025-Q2", 90.0), ("T1.01", "count", "2025-Q3", 100.0)))
    outcome = run_rules(make_model(), dq13, "r", COMPUTED_AT, facts=run)
    assert totals(outcome) == {("DQ13", "boern"): (1, 0, "pass"), ("DQ13", "kpi"): (1, 0, "pass"),
                               ("DQ13", "voksen"): (1, 0, "pass")}
    assert outcome.dq_failure.empty and outcome.breaches == []


def test_dq13_from_zero_is_a_swing(make_model, dq13):
    run = facts(row_counts=counts(("boern", "Barn", 5), ("boern", "Sag", 0)),
                previous_row_counts=counts(("boern", "Barn", 0), ("boern", "Sag", 0)))
    outcome = run_rules(make_model(), dq13, "r", COMPUTED_AT, facts=run)
    assert failures(outcome) == {("boern", "Barn"): "forrige 0 → nu 5 (fra 0)"}
