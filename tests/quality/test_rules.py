"""Each rule on a small hand-built model whose answer is stated in the test; the rules on
the run's facts (DQ10 freshness, DQ13 swings, DQ14 conservation) on hand-built facts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import random

import pandas as pd
import pytest
from recording_model import RecordingModel

from rule_findings import findings

from etl.core.privacy import contains_cpr
from etl.kpi.catalog import CATALOG
from etl.model import Model
from etl.quality.config import load_rules_config
from etl.quality.facts import FRESHNESS_COLUMNS, KPI_TOTAL_COLUMNS, ROW_COUNT_COLUMNS, RunFacts, is_stale
from etl.quality.rules import RULES, swing_share
from etl.quality.runner import RUNNER_TABLES, model_tables, run_rules
from etl.sources import SOURCES


def breakdown(model, rule_id: str, source: str, name: str) -> dict[str, str]:
    """record id -> its breakdown label for one source."""
    labels = {}
    for f in RULES[rule_id].check(model):
        if f.source == source:
            labels |= dict(zip(f.record_ids, f.breakdowns[name]))
    return labels


def details(model, rule_id: str) -> dict[str, str]:
    """failing record id -> detail."""
    out = {}
    for f in RULES[rule_id].check(model):
        out |= dict(zip(f.record_ids[f.failing], f.detail[f.failing]))
    return out


def decision(source: str, decision_id: str, **values) -> dict:
    return {"decision_key": f"{source}:{decision_id}", "source": source, "decision_id": decision_id,
            "case_key": f"{source}:c1", "citizen_key": "p1", "outcome": "Bevilget",
            "decision_date": "2025-06-15", "deadline_date": "2025-08-01", "paragraph_text": "BL §46",
            "area": "Børn og Unge", **values}


def service(source: str, service_id: str, **values) -> dict:
    return {"service_key": f"{source}:{service_id}", "source": source, "service_id": service_id,
            "case_key": f"{source}:c1", "citizen_key": "p1", "paragraph_text": "SEL §107",
            "start_date": "2025-01-01", "area": "Voksne", **values}


def stay(stay_id: str, person: str | None, facility_type: str, check_in: str, check_out: str | None,
         facility_id: str = "F1") -> dict:
    return {"stay_key": f"tilbud:{stay_id}", "stay_id": stay_id, "facility_id": facility_id,
            "facility_type": facility_type, "citizen_key": person, "has_cpr": person is not None,
            "check_in": check_in, "check_out": check_out, "area": "Voksne"}


def test_registry_holds_the_catalogue_rules():
    # DQ01-DQ13 of shared/spec/kpi-catalogue.md, and DQ14 (the reliability requirement that no row disappears)
    assert {f"DQ{n:02}" for n in range(1, 15)} <= set(RULES)


def test_dq01_decisions_without_deadline_per_source_with_month_and_case_type(make_model):
    model = make_model(fact_decision=[
        decision("boern", "1"),
        decision("boern", "2", deadline_date=None, decision_date="2025-03-04"),
        decision("boern", "3", deadline_date=None, paragraph_text="§ 999", decision_date="2025-04-30"),
        decision("voksen", "10", deadline_date=None, paragraph_text="SEL 108"),
        decision("voksen", "11", paragraph_text="ydelse efter 85", service_code="SEL85"),
    ])
    assert findings(model, "DQ01") == {("boern", "Afgoerelse"): (3, ["2", "3"]),
                                       ("voksen", "afgoerelse"): (2, ["10"])}
    assert breakdown(model, "DQ01", "boern", "decision_month") == {"1": "2025-06", "2": "2025-03", "3": "2025-04"}
    assert breakdown(model, "DQ01", "boern", "case_type") == {
        "1": "Anbringelse med samtykke", "2": "Anbringelse med samtykke", "3": "Ukendt"}
    # unmapped text but a known service code still gives the case type
    assert breakdown(model, "DQ01", "voksen", "case_type") == {
        "10": "Længerevarende botilbud", "11": "Socialpædagogisk støtte"}


def test_dq02_decision_on_the_extraction_date_is_not_in_the_future(make_model):
    model = make_model(fact_decision=[
        decision("boern", "1", decision_date="2025-11-20"),
        decision("boern", "2", decision_date="2025-11-21"),
        decision("voksen", "3", decision_date="2026-01-05"),
        decision("voksen", "4", decision_date="2024-12-31"),
    ])
    assert findings(model, "DQ02") == {("boern", "Afgoerelse"): (2, ["2"]),
                                       ("voksen", "afgoerelse"): (2, ["3"])}
    assert breakdown(model, "DQ02", "voksen", "decision_month") == {"3": "2026-01", "4": "2024-12"}
    assert details(model, "DQ02")["2"] == "afgørelsesdato 2025-11-21 er efter udtræksdatoen 2025-11-20"


def test_dq03_complaints_without_case_or_system(make_model):
    base = {"received_date": "2025-05-01", "cause": "x", "unit_code": "SOF-ADM"}
    model = make_model(fact_complaint=[
        {**base, "complaint_id": "1", "complaint_type": "Afgørelse", "source_system": "boern",
         "case_reference": "BS-1", "case_key": "boern:1"},
        {**base, "complaint_id": "2", "complaint_type": "Afgørelse", "source_system": "voksen",
         "case_reference": "999", "case_key": None},
        {**base, "complaint_id": "3", "complaint_type": "Personale", "source_system": None,
         "case_reference": "BS-1", "case_key": "boern:1"},
        {**base, "complaint_id": "4", "complaint_type": "Personale", "source_system": "boern",
         "case_reference": None, "case_key": None},
    ])
    assert findings(model, "DQ03") == {("klage", "klage"): (4, ["2", "3", "4"])}
    assert breakdown(model, "DQ03", "klage", "complaint_type") == {
        "1": "Afgørelse", "2": "Afgørelse", "3": "Personale", "4": "Personale"}
    assert details(model, "DQ03") == {"2": "sagsreferencen matcher ingen sag i det angivne fagsystem",
                                      "3": "kilde_system mangler", "4": "sagsreference mangler"}


def test_dq04_services_without_start_date(make_model):
    model = make_model(fact_service=[
        service("boern", "1", paragraph_text="BL § 32", start_date=None),
        service("boern", "2", paragraph_text="BL § 32"),
        service("voksen", "3", start_date=None),
        service("voksen", "4", start_date=None, paragraph_text="SEL §999"),
        service("voksen", "5"),
    ])
    assert findings(model, "DQ04") == {("boern", "Foranstaltning"): (2, ["1"]),
                                       ("voksen", "ydelse"): (3, ["3", "4"])}
    assert breakdown(model, "DQ04", "voksen", "case_type") == {
        "3": "Midlertidigt botilbud", "4": "Ukendt", "5": "Midlertidigt botilbud"}


def test_dq06_end_before_start_in_services_stays_and_absences(make_model):
    model = make_model(
        fact_service=[
            service("boern", "1", start_date="2025-03-01", end_date="2025-02-28"),
            service("boern", "2", start_date="2025-03-01", end_date="2025-03-01"),
            service("voksen", "3", start_date="2025-03-01", end_date=None),
            service("voksen", "4", start_date=None, end_date="2025-01-01"),
        ],
        fact_stay=[
            stay("1", "p1", "Herberg §110", "2025-03-01 12:00", "2025-03-01 09:00"),
            stay("2", "p1", "Herberg §110", "2025-04-01 12:00", "2025-04-01 13:00"),
        ],
        fact_absence=[
            {"absence_id": "1", "employee_key": "hr:1", "absence_type": "Ferie",
             "from_date": "2025-07-10", "to_date": "2025-07-01"},
            {"absence_id": "2", "employee_key": "hr:1", "absence_type": "Ferie",
             "from_date": "2025-07-10", "to_date": "2025-07-10"},
        ],
    )
    assert findings(model, "DQ06") == {
        ("boern", "Foranstaltning"): (2, ["1"]), ("voksen", "ydelse"): (2, []),
        ("tilbud", "ophold"): (2, ["1"]), ("hr", "fravaer"): (2, ["1"]),
    }


def test_dq07_overlapping_stays(make_model):
    model = make_model(fact_stay=[
        # touching: one ends the day the other starts -> no shared night
        stay("1", "A", "Herberg §110", "2025-01-01 20:00", "2025-01-10 09:00"),
        stay("2", "A", "Herberg §110", "2025-01-10 18:00", "2025-01-15 09:00"),
        # different facility types -> no overlap
        stay("3", "B", "Herberg §110", "2025-02-01", "2025-02-10"),
        stay("4", "B", "Natcafé", "2025-02-05", "2025-02-06"),
        # anonymous stays are not checked (and not in the population)
        stay("5", None, "Natcafé", "2025-02-05", "2025-02-07"),
        stay("6", None, "Natcafé", "2025-02-05", "2025-02-07"),
        # three mutually overlapping stays at two facilities of one type, one still open
        stay("7", "C", "Forsorgshjem §110", "2025-03-01", "2025-03-10", facility_id="F1"),
        stay("8", "C", "Forsorgshjem §110", "2025-03-02", "2025-03-09", facility_id="F2"),
        stay("9", "C", "Forsorgshjem §110", "2025-03-05", None, facility_id="F1"),
        # two short stays inside one long one: all three involved; 14 only touches its end
        stay("10", "D", "Herberg §110", "2025-04-01", "2025-04-20"),
        stay("11", "D", "Herberg §110", "2025-04-05", "2025-04-06"),
        stay("12", "D", "Herberg §110", "2025-04-10", "2025-04-12"),
        stay("13", "D", "Herberg §110", "2025-04-20", "2025-04-25"),
        # a same-day stay occupies no night; exactly one shared night does overlap
        stay("14", "E", "Natcafé", "2025-05-01 10:00", "2025-05-01 22:00"),
        stay("15", "E", "Natcafé", "2025-05-01 08:00", "2025-05-03 08:00"),
        stay("16", "E", "Natcafé", "2025-05-02 23:00", "2025-05-04 08:00"),
    ])
    assert findings(model, "DQ07") == {
        ("tilbud", "ophold"): (14, ["10", "11", "12", "15", "16", "7", "8", "9"])}
    assert breakdown(model, "DQ07", "tilbud", "facility_type")["16"] == "Natcafé"


def test_dq07_matches_a_pairwise_check_on_random_stays(make_model):
    """The sort-based pass flags exactly the stays a brute-force pairwise comparison does."""
    rng = random.Random(7)
    rows = []
    for i in range(300):
        start = pd.Timestamp("2025-01-01") + pd.Timedelta(days=rng.randrange(60))
        length = rng.choice([0, 1, 2, 3, 5, 10, None])
        end = None if length is None else start + pd.Timedelta(days=length)
        rows.append(stay(str(i), f"p{rng.randrange(40)}", rng.choice(["Herberg §110", "Natcafé"]),
                         str(start), None if end is None else str(end)))
    model = make_model(fact_stay=rows)

    def nights(row):
        start = pd.Timestamp(row["check_in"])
        end = pd.Timestamp(row["check_out"]) if row["check_out"] else pd.Timestamp("2100-01-01")
        return start, end

    expected = set()
    for a, b in itertools.combinations(rows, 2):
        if (a["citizen_key"], a["facility_type"]) != (b["citizen_key"], b["facility_type"]):
            continue
        (sa, ea), (sb, eb) = nights(a), nights(b)
        if max(sa, sb) < min(ea, eb) and sa < ea and sb < eb:
            expected |= {a["stay_id"], b["stay_id"]}
    assert findings(model, "DQ07") == {("tilbud", "ophold"): (300, sorted(expected))}
    assert len(expected) > 20


def test_dq08_unknown_unit_or_paragraph(make_model):
    dim_org = pd.DataFrame([
        {"unit_code": "BFC-NORD", "system": "boern", "unit": "u", "center": "c", "area": "Børn og Unge",
         "valid_from": "2019-01-01", "valid_to": None},
        {"unit_code": "OLD-UNIT", "system": "voksen", "unit": "u", "center": "c", "area": "Voksne",
         "valid_from": "2015-01-01", "valid_to": "2018-12-31"},
        {"unit_code": "4010101", "system": "hr", "unit": "u", "center": "c", "area": "Børn og Unge",
         "valid_from": "2019-01-01", "valid_to": None},
        {"unit_code": "TIL-HERB", "system": "tilbud", "unit": "u", "center": "c", "area": "Voksne",
         "valid_from": "2019-01-01", "valid_to": None},
        {"unit_code": "SOF-ADM", "system": "klage", "unit": "u", "center": "c", "area": "Tværgående",
         "valid_from": "2019-01-01", "valid_to": None},
    ])
    case = {"citizen_key": "p1", "opened_date": "2025-01-01", "area": "Børn og Unge"}
    model = make_model(
        dim_org=dim_org,
        fact_case=[{**case, "case_key": "boern:1", "source": "boern", "case_id": "1", "unit_code": "BFC-NORD"},
                   {**case, "case_key": "boern:2", "source": "boern", "case_id": "2", "unit_code": "BFC-NORTH"},
                   {**case, "case_key": "boern:3", "source": "boern", "case_id": "3", "unit_code": None},
                   {**case, "case_key": "voksen:9", "source": "voksen", "case_id": "9", "unit_code": "0102031234"}],
        fact_decision=[decision("voksen", "1", unit_code="OLD-UNIT", paragraph_text="SEL §107"),
                       decision("voksen", "2", unit_code="0102031234", paragraph_text="§ 999")],
        fact_investigation=[
            {"investigation_id": "1", "case_key": "boern:1", "citizen_key": "p1", "start_date": "2025-01-01",
             "paragraph_text": "BL §20", "unit_code": "NOT-CHECKED-HERE"},
            {"investigation_id": "2", "case_key": "boern:1", "citizen_key": "p1", "start_date": "2025-01-01",
             "paragraph_text": "SEL §50a"}],
        dim_facility=[{"facility_id": "F1", "facility_type": "Natcafé", "unit_code": "TIL-HERB",
                       "places": 10, "active_from": "2019-01-01"}],
        fact_complaint=[{"complaint_id": "1", "received_date": "2025-01-01", "complaint_type": "Andet",
                         "cause": "x", "unit_code": "SOF-ADM"}],
        dim_employee=[{"employee_key": "e1", "employee_id": "1", "unit_code": "4010101", "job_category": "Leder",
                       "hired_date": "2020-01-01", "fte": 1.0},
                      {"employee_key": "e2", "employee_id": "2", "unit_code": "4019999", "job_category": "Leder",
                       "hired_date": "2020-01-01", "fte": 1.0}],
        fact_recruitment=[{"recruitment_id": "1", "unit_code": "X1", "job_category": "Leder",
                           "posted_date": "2025-01-01"}],
        fact_incident=[{"incident_id": "1", "unit_code": "4010101", "incident_date": "2025-01-01",
                        "category": "Trussel"}],
    )
    assert findings(model, "DQ08") == {
        ("boern", "Sag"): (2, ["2"]), ("boern", "Afgoerelse"): (0, []), ("boern", "Foranstaltning"): (0, []),
        ("boern", "Undersoegelse"): (2, ["2"]),
        # a decision's unit is its case's: checked on the case row only, so a decision row
        # counts once, for its own paragraph code (the catalogue's reading of DQ08)
        ("voksen", "sag"): (1, ["9"]), ("voksen", "afgoerelse"): (2, ["2"]), ("voksen", "ydelse"): (0, []),
        ("tilbud", "tilbud"): (1, []), ("klage", "klage"): (1, []),
        ("hr", "medarbejder"): (2, ["2"]), ("hr", "rekruttering"): (1, ["1"]),
        ("hr", "arbejdsmiljoe_haendelse"): (1, []),
        ("oekonomi", "postering"): (0, []), ("oekonomi", "budget"): (0, []),  # see test_economy_rules.py
    }
    voksen = [f for f in RULES["DQ08"].check(model) if f.source == "voksen" and f.failing.any()]
    assert sorted((f.breakdowns["code_kind"].iloc[0], f.detail[f.failing].iloc[0]) for f in voksen) == [
        ("paragraph", "paragraf '§ 999' findes ikke i referencedata"),
        ("unit", "enhedskode (CPR-lignende værdi udeladt) findes ikke i referencedata"),
    ]


def test_dq11_notification_assessed_before_received(make_model):
    base = {"notification_source": "Skole", "acute": False, "area": "Børn og Unge"}
    model = make_model(fact_notification=[
        {**base, "notification_id": "1", "received_at": "2025-05-01 10:00", "assessed_at": "2025-05-01 09:59"},
        {**base, "notification_id": "2", "received_at": "2025-05-01 10:00", "assessed_at": "2025-05-01 10:00"},
        {**base, "notification_id": "3", "received_at": "2025-05-01 10:00", "assessed_at": None},
    ])
    assert findings(model, "DQ11") == {("boern", "Underretning"): (3, ["1"])}
    assert details(model, "DQ11") == {"1": "vurderet 2025-05-01 09:59 før modtaget 2025-05-01 10:00"}


def test_dq12_shelter_stays_open_more_than_730_days(make_model):
    # extraction 2025-11-20: 730 days before is 2023-11-21, 731 days before is 2023-11-20
    model = make_model(fact_stay=[
        stay("1", "A", "Herberg §110", "2023-11-21 00:01", None),
        stay("2", "B", "Herberg §110", "2023-11-20 23:59", None),
        stay("3", None, "Natcafé", "2022-01-01 22:00", None),
        stay("4", "C", "Forsorgshjem §110", "2021-01-01", "2025-11-01"),
        stay("5", "D", "Krisecenter §109", "2020-01-01", None),
    ])
    assert findings(model, "DQ12") == {("tilbud", "ophold"): (4, ["2", "3"])}
    assert details(model, "DQ12")["2"] == "åbent siden 2023-11-20 (731 dage)"


def test_no_record_id_or_detail_is_cpr_shaped(make_model):
    model = make_model(
        fact_decision=[decision("boern", "1", deadline_date=None, decision_date="2026-01-01",
                                unit_code="010203-1234", paragraph_text="0102031234")],
        fact_complaint=[{"complaint_id": "1", "received_date": "2025-01-01", "complaint_type": "Andet",
                         "cause": "x", "source_system": "boern", "case_reference": "010203-1234"}])
    for rule_id in RULES:
        registered = RULES[rule_id]
        checked = registered.check(model, None, registered.params) if registered.needs_facts else registered.check(model)
        for f in checked:
            for text in [*f.record_ids, *f.detail.dropna()]:
                assert not contains_cpr(text), (rule_id, text)


# === rules on the run's facts ==========================================================

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
    assert swing_share(12.5, None) == float("inf") and swing_share(12.5, float("nan")) == float("inf")  # gone


def test_dq13_key_kpis_watch_every_source():
    for key_kpis in (RULES["DQ13"].params["key_kpis"], load_rules_config()["DQ13"].rule_params["key_kpis"]):
        assert set().union(*(CATALOG[k].sources for k in key_kpis)) == set(SOURCES)


def test_dq13_swing_at_the_share_passes_above_fails(make_model, dq13):
    run = facts(
        row_counts=counts(("boern", "Barn", 125), ("boern", "Sag", 74), ("voksen", "borger", 126),
                          ("voksen", "sag", 10)),
        previous_row_counts=counts(("boern", "Barn", 100), ("boern", "Sag", 100), ("voksen", "borger", 100)),
        kpi_totals=kpis(("T1.01", "count", "2025-Q3", 100.0), ("T2.01", "count", "2025-Q3", 20.0),
                        ("T2.01", "count", "2025-Q4", 1.0, True), ("T4.01", "count", "2025-Q3", 1.0)),
        previous_kpi_totals=kpis(("T1.01", "count", "2025-Q3", 80.0), ("T2.01", "count", "2025-Q3", 40.0),
                                 ("T2.01", "count", "2025-Q4", 500.0, True), ("T4.01", "count", "2025-Q3", 9.0)))
    outcome = run_rules(make_model(), dq13, "r", COMPUTED_AT, facts=run)
    # Barn +25 % exactly: pass; Sag -26 %: fail; borger +26 %: fail; sag (new table): no previous
    # T1.01 +25 %: pass; T2.01 -50 %: fail; the provisional Q4 and the non-key T4.01 are not compared
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


# --- DQ14 ------------------------------------------------------------------------------

CHECKED = dt.datetime(2025, 11, 15, 3)


def chain(*rows):
    return pd.DataFrame(rows, columns=["source", "source_table", "landed", "rows_in", "staged", "quarantined",
                                       "expected", "model"])


def failing(conservation):
    facts = RunFacts(CHECKED, pd.DataFrame(), pd.DataFrame(), conservation=conservation)
    findings = RULES["DQ14"].check(Model.from_frames(dt.date(2025, 11, 15)), facts, {})
    return {(f.source, r): d for f in findings for r, x, d in zip(f.record_ids, f.failing, f.detail) if x}


def test_dq14_a_reconciled_chain_passes_and_every_kind_of_gap_fails():
    ok = ("boern", "Sag", 10, 10, 8, 2, 7, 7)
    assert failing(chain(ok)) == {}
    gaps = failing(chain(ok,
                         ("boern", "Afgoerelse", 11, 10, 8, 2, 8, 8),      # a landed row never validated
                         ("voksen", "sag", 10, 10, 8, 1, 8, 8),            # staged + quarantined ≠ rows in
                         ("voksen", "ydelse", 10, 10, 10, 0, 9, 8),        # a row lost between staged and model
                         ("cpr", "cpr", 5, 5, 5, 0, None, None)))          # no model table: checked to staging
    assert set(gaps) == {("boern", "Afgoerelse"), ("voksen", "sag"), ("voksen", "ydelse")}
    assert gaps[("voksen", "ydelse")] == "landet 10 → indlæst 10 = gyldige 10 + karantæne 0 → model 8 (forventet 9)"


def test_dq14_without_facts_reports_nothing():
    assert RULES["DQ14"].check(Model.from_frames(dt.date(2025, 11, 15)), None, {}) == []


def test_dq08_counts_a_row_once_for_the_codes_it_carries_itself(make_model):
    """Catalogue reading (issue 20): a decision or service inherits its case's unit, so an
    unknown case unit fails the case row once and none of the 3 rows hanging off it; a
    row with its own unknown code fails once. Planted: 2 cases (1 unknown unit), 3
    decisions (1 unknown paragraph), 2 services (0 unknown) -> 2 failing rows in all."""
    case = {"citizen_key": "p1", "opened_date": "2025-01-01", "area": "Børn og Unge", "source": "boern"}
    model = make_model(
        fact_case=[{**case, "case_key": "boern:1", "case_id": "1", "unit_code": "BFC-NORD"},
                   {**case, "case_key": "boern:2", "case_id": "2", "unit_code": "BFC-NOWHERE"}],
        fact_decision=[decision("boern", "1", case_key="boern:2", unit_code="BFC-NOWHERE", paragraph_text="BL § 32"),
                       decision("boern", "2", case_key="boern:2", unit_code="BFC-NOWHERE", paragraph_text="BL §999"),
                       decision("boern", "3", case_key="boern:1", unit_code="BFC-NORD", paragraph_text="BL §46")],
        fact_service=[{"service_key": "boern:7", "source": "boern", "service_id": "7", "case_key": "boern:2",
                       "citizen_key": "p1", "paragraph_text": "BL § 32", "unit_code": "BFC-NOWHERE",
                       "area": "Børn og Unge"},
                      {"service_key": "boern:8", "source": "boern", "service_id": "8", "case_key": "boern:1",
                       "citizen_key": "p1", "paragraph_text": "BL §46", "unit_code": "BFC-NORD",
                       "area": "Børn og Unge"}])
    found = {key: value for key, value in findings(model, "DQ08").items() if value[0]}
    assert found == {("boern", "Sag"): (2, ["2"]), ("boern", "Afgoerelse"): (3, ["2"]),
                     ("boern", "Foranstaltning"): (2, [])}
    assert sum(len(failing) for _, failing in found.values()) == 2
    kinds = {(f.source_table, r): k for f in RULES["DQ08"].check(model) if f.source == "boern"
             for r, k in zip(f.record_ids, f.breakdowns["code_kind"])}
    assert kinds == {("Sag", "1"): "unit", ("Sag", "2"): "unit", ("Afgoerelse", "1"): "paragraph",
                     ("Afgoerelse", "2"): "paragraph", ("Afgoerelse", "3"): "paragraph",
                     ("Foranstaltning", "7"): "paragraph", ("Foranstaltning", "8"): "paragraph"}



def test_every_rule_declares_exactly_the_model_tables_its_check_reads(demo_model_dir):
    """The data-quality stage loads only the tables the enabled rules declare; a table read but
    not declared would raise there, one declared but not read would be loaded for nothing."""
    demo_night_model = Model.load(demo_model_dir)
    checked = facts(kpi_totals=kpis(), previous_kpi_totals=kpis())
    for rule_id, registered in RULES.items():
        model = RecordingModel(demo_night_model.extraction_date, demo_night_model.extraction_time,
                               dict(demo_night_model.tables))
        if registered.needs_facts:
            registered.check(model, checked, registered.params)
        else:
            registered.check(model)
        assert model.__dict__.get("read", set()) == registered.tables, (rule_id, sorted(
            model.__dict__.get("read", set()) ^ registered.tables))


def test_the_stage_loads_only_the_enabled_rules_tables():
    config = load_rules_config()
    assert model_tables(config) == RUNNER_TABLES | set().union(*(RULES[r].tables for r in config))
    assert {"fact_employment_status", "dim_citizen", "link_person"}.isdisjoint(model_tables(config))
    only_dq18 = {r: dataclasses.replace(c, enabled=r == "DQ18") for r, c in config.items()}
    assert model_tables(only_dq18) == {"fact_case", "fact_posting"}
