"""T1.01, T2.04, T3.01, T4.01, T5.01 and T6.01 (one KPI per theme and more) from
`benchmarks/kpi_reference.py` (straight DuckDB SQL over the model's Parquet, written from the
catalogue) agree with our pandas KPIs, value for value, at every organisation level and
breakdown and for every period the pipeline computes: on a generated demo model and on
hand-built ones with the edge cases of the definitions, where a few figures are also checked
against values worked out by hand."""

from __future__ import annotations

import datetime as dt
import importlib.util

import duckdb
import pandas as pd
from model_files import save_model

from etl.core.periods import reporting_periods
from etl.core.reference import load_reference
from etl.core.settings import REPO_ROOT
from etl.model import Model

_spec = importlib.util.spec_from_file_location("kpi_reference", REPO_ROOT / "benchmarks" / "kpi_reference.py")
kpi_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kpi_reference)

DAY = dt.date(2025, 11, 15)


def agree(model_dir, history_quarters: int = 4) -> dict[str, pd.DataFrame]:
    """Compare every KPI of the reference; returns the reference's rows per KPI (all of
    them compared) and fails on any mismatch."""
    model = Model.load(model_dir)
    periods = reporting_periods(model.extraction_date, history_quarters)
    con = duckdb.connect()
    rows = {}
    for kpi_id in kpi_reference.KPIS:
        expected = kpi_reference.reference(con, kpi_id, model_dir, periods)
        actual = kpi_reference.ours(model, kpi_id, periods)
        bad = kpi_reference.compare(expected, actual)
        assert bad.empty, f"{kpi_id}: DuckDB reference and ours differ:\n{bad.to_string()}"
        rows[kpi_id] = expected
    return rows


def figure(rows: pd.DataFrame, measure: str, period_end: str, org_level: str = "sof", org_key: str = "SOF",
           dimension: str | None = None, dimension_value: str | None = None,
           period_type: str = "quarter") -> tuple[float, float, float] | None:
    """(value, numerator, denominator) of one row of the reference (None: no such row)."""
    match = ((rows["measure"] == measure) & (rows["period_type"] == period_type)
             & (rows["period_end"] == period_end) & (rows["org_level"] == org_level)
             & (rows["org_key"] == org_key)
             & (rows["dimension"].isna() if dimension is None else rows["dimension"] == dimension)
             & (rows["dimension_value"].isna() if dimension_value is None
                else rows["dimension_value"] == dimension_value))
    found = rows[match]
    assert len(found) <= 1
    return None if found.empty else tuple(found.iloc[0][["value", "numerator", "denominator"]])


def test_reference_agrees_on_the_demo_model_dir(demo_model_dir):
    rows = {kpi_id: len(frame) for kpi_id, frame in agree(demo_model_dir).items()}
    # every level and breakdown of every period is compared, not just the totals
    assert rows["T1.01"] > 1000 and rows["T2.04"] > 200 and rows["T5.01"] > 1000
    assert rows["T3.01"] > 1000 and rows["T4.01"] > 100 and rows["T6.01"] > 20000


def test_compare_finds_a_changed_value(demo_model_dir):
    model = Model.load(demo_model_dir)
    periods = reporting_periods(model.extraction_date, 1)
    expected = kpi_reference.reference(duckdb.connect(), "T2.04", demo_model_dir, periods)
    actual = kpi_reference.ours(model, "T2.04", periods)
    assert kpi_reference.compare(expected, actual).empty
    changed = actual.copy()
    changed.loc[5, "numerator"] += 1
    assert len(kpi_reference.compare(expected, changed)) == 1
    assert len(kpi_reference.compare(expected, actual.drop(index=7))) == 1


def test_reference_agrees_on_the_edge_cases(make_model, tmp_path):
    """BFC-VEST / 4010202 move center on 2025-01-01 (org resolved on each period's end), an
    unknown unit, a citizen missing from dim_citizen and one born on 29 February, stays only,
    anonymous and Natcafé stays, an open and a same-day stay, check-out before check-in, a
    stay at a facility missing from dim_facility, a facility closing mid-quarter, open and
    long absences straddling a period start, an absence of someone not in dim_employee,
    part-time and leaving employees."""
    vest, hr_vest = "BFC-VEST", "4010202"
    model = make_model(
        extraction_date=DAY,
        dim_citizen=[
            {"citizen_key": "c1", "birth_date": "2010-02-28", "gender": "M", "bydel": "Vesterbro"},
            {"citizen_key": "c2", "birth_date": "1960-02-29", "gender": "K"},
            {"citizen_key": "c3", "birth_date": "1990-06-01", "bydel": "Amager Øst"},
        ],
        fact_service=[
            {"service_key": "s1", "source": "boern", "citizen_key": "c1", "start_date": "2024-01-10",
             "unit_code": vest, "target_group": "Udsatte børn", "area": "Børn og Unge"},
            {"service_key": "s2", "source": "boern", "citizen_key": "c1", "start_date": "2025-03-01",
             "end_date": "2025-09-30", "unit_code": "BFC-NORD", "target_group": "Handicap", "area": "Børn og Unge"},
            {"service_key": "s3", "source": "voksen", "citizen_key": "c2", "start_date": "2024-05-01",
             "end_date": "2025-06-30", "unit_code": "NO-SUCH-UNIT", "area": "Voksne"},
            {"service_key": "s4", "source": "voksen", "citizen_key": "c9", "start_date": "2025-06-30",
             "unit_code": "CSU-ØST", "target_group": "Psykiatri", "area": "Voksne"},
            {"service_key": "s5", "source": "voksen", "citizen_key": "c3", "start_date": None,
             "unit_code": "CSU-ØST", "area": "Voksne"},
        ],
        dim_facility=[
            {"facility_id": "f1", "facility_type": "Herberg §110", "unit_code": "TIL-HERB", "places": 10,
             "active_from": "2020-01-01"},
            {"facility_id": "f2", "facility_type": "Natcafé", "unit_code": "TIL-NAT", "places": 5,
             "active_from": "2025-02-15", "active_to": "2025-08-10"},
            {"facility_id": "f3", "facility_type": "Krisecenter §109", "unit_code": "TIL-KRISE", "places": 3,
             "active_from": "2019-01-01", "active_to": "2024-11-30"},
        ],
        fact_stay=[
            {"stay_key": "t1", "facility_id": "f1", "facility_type": "Herberg §110", "citizen_key": "c3",
             "has_cpr": True, "check_in": "2024-12-20 18:00", "unit_code": "TIL-HERB", "area": "Voksne"},
            {"stay_key": "t2", "facility_id": "f1", "facility_type": "Herberg §110", "has_cpr": False,
             "check_in": "2025-03-30", "check_out": "2025-04-03", "unit_code": "TIL-HERB", "area": "Voksne"},
            {"stay_key": "t3", "facility_id": "f2", "facility_type": "Natcafé", "citizen_key": "c2",
             "has_cpr": True, "check_in": "2025-05-05 22:00", "check_out": "2025-05-06 07:00",
             "unit_code": "TIL-NAT", "area": "Voksne"},
            {"stay_key": "t4", "facility_id": "f1", "facility_type": "Herberg §110", "citizen_key": "c2",
             "has_cpr": True, "check_in": "2025-07-01", "check_out": "2025-07-01", "unit_code": "TIL-HERB",
             "area": "Voksne"},
            {"stay_key": "t5", "facility_id": "f1", "facility_type": "Herberg §110", "citizen_key": "c1",
             "has_cpr": True, "check_in": "2025-08-01", "check_out": "2025-07-20", "unit_code": "TIL-HERB",
             "area": "Voksne"},
            {"stay_key": "t6", "facility_id": "f9", "facility_type": "Herberg §110", "citizen_key": "c1",
             "has_cpr": True, "check_in": "2025-01-01", "unit_code": "TIL-HERB", "area": "Voksne"},
            {"stay_key": "t7", "facility_id": "f3", "facility_type": "Krisecenter §109", "citizen_key": "c9",
             "has_cpr": True, "check_in": "2024-09-01", "check_out": "2024-11-15", "unit_code": "TIL-KRISE",
             "area": "Voksne"},
        ],
        dim_employee=[
            {"employee_key": "e1", "unit_code": hr_vest, "job_category": "Socialrådgiver",
             "hired_date": "2020-01-01", "fte": 1.0},
            {"employee_key": "e2", "unit_code": hr_vest, "job_category": "Pædagog",
             "hired_date": "2024-08-15", "left_date": "2025-05-31", "fte": 0.75},
            {"employee_key": "e3", "unit_code": "NO-SUCH-UNIT", "hired_date": "2025-02-01", "fte": 0.333},
        ],
        fact_absence=[
            {"absence_id": "a1", "employee_key": "e1", "absence_type": "Egen sygdom",
             "from_date": "2025-06-20", "to_date": "2025-07-10"},
            {"absence_id": "a2", "employee_key": "e1", "absence_type": "Arbejdsskade", "from_date": "2025-10-20"},
            {"absence_id": "a3", "employee_key": "e2", "absence_type": "Egen sygdom",
             "from_date": "2024-12-30", "to_date": "2025-01-03"},
            {"absence_id": "a4", "employee_key": "e2", "absence_type": "Barsel", "from_date": "2025-02-01"},
            {"absence_id": "a5", "employee_key": "e3", "absence_type": "Egen sygdom",
             "from_date": "2025-03-10", "to_date": "2025-03-01"},
            {"absence_id": "a6", "employee_key": "e7", "absence_type": "Egen sygdom",
             "from_date": "2025-04-01", "to_date": "2025-04-02"},
        ],
    )
    save_model(model, tmp_path / "model")
    rows = agree(tmp_path / "model")
    assert all(len(frame) > 0 for frame in rows.values())


def test_reference_agrees_on_the_edge_cases_of_themes_3_4_6(make_model, tmp_path):
    """T3.01 in 2025-Q3: d1 decided on day 56 of BL32's 56 (in time), d2 on day 57 of SEL85's
    56 (late), d7 on the day of application at an unknown unit; left out: d3 decided before its
    application, d4 a service code without a deadline, d5 an unmapped paragraph, d6 no
    application date. T4.01 in 2025-Q2 (E + 90 = 28 September, known on 15 November): c1 leaves
    a herberg on 10 April, SEL107 starts on day 90 (§107); c2 leaves on 1 May "til §107", a §107
    stay starts on day 91 (no step); c3 leaves a forsorgshjem on 2 June for Egen bolig and SEL108
    starts the same day (tie: §108); c4 leaves a forsorgshjem of no known unit "til §108" with no
    §108, and a natcafé for Egen bolig (no step); c6 leaves for Egen bolig; an anonymous stay;
    c5 leaves in 2025-Q3, not yet known (E + 90 = 29 December). T6.01 in the running 2025-Q4
    (1 October - 15 November): P2 a DQ18 copy of P1, P3 a credit note whose reference matched
    nothing (and paid for 2024), P4 a refund, P5 another art, P6 a function not in ref_account at
    an unknown unit, P7 a soft-deleted measure's; November's Korrigeret budget beside its
    Oprindeligt one, 15/30 of it, and 15/30 of November 2024 in the twin 2024-Q4; in 2025-Q3 P9
    reaches a measure of type Ukendt (the function's type then). c7 leaves shelters of two units
    in 2025-Q1."""
    reference = load_reference(REPO_ROOT / "reference")
    vest, herb, ukendt = "BFC-VEST", "TIL-HERB", "NO-SUCH-UNIT"
    decision = {"source": "voksen", "case_key": "voksen:k1", "citizen_key": "c3", "paragraph_text": "SEL § 85",
                "service_code": "SEL85", "outcome": "Bevilget", "unit_code": "CSU-ØST", "area": "Voksne"}
    shelter = {"facility_id": "f1", "facility_type": "Herberg §110", "has_cpr": True, "unit_code": herb,
               "area": "Voksne"}
    housing = {"source": "voksen", "case_key": "voksen:k1", "unit_code": "CSU-ØST", "area": "Voksne"}
    posting = {"booked_date": "2025-10-05", "period_to": "2025-09-30", "funktion": "5.28.21", "art": "4.9",
               "money_class": "expense", "unit_code": "OMK5104", "source_system": "boern", "has_reference": True,
               "duplicate": False}
    budget = {"year": 2025, "funktion": "5.28.21", "unit_code": "OMK5104", "version": "Oprindeligt"}
    model = make_model(
        extraction_date=DAY, ref_deadline=reference["ref_deadline"], ref_account=reference["ref_account"],
        fact_decision=[
            {**decision, "decision_key": "boern:d1", "source": "boern", "case_key": "boern:k1",
             "paragraph_text": "BL § 32", "service_code": "BL32", "application_date": "2025-07-01",
             "decision_date": "2025-08-26", "unit_code": vest, "area": "Børn og Unge"},
            {**decision, "decision_key": "voksen:d2", "application_date": "2025-07-01",
             "decision_date": "2025-08-27"},
            {**decision, "decision_key": "voksen:d3", "application_date": "2025-08-10",
             "decision_date": "2025-08-01"},
            {**decision, "decision_key": "voksen:d4", "service_code": "SEL83", "application_date": "2025-07-01",
             "decision_date": "2025-07-02"},
            {**decision, "decision_key": "boern:d5", "source": "boern", "paragraph_text": "SEL § 999",
             "service_code": None, "application_date": "2025-07-01", "decision_date": "2025-07-02",
             "unit_code": vest, "area": "Børn og Unge"},
            {**decision, "decision_key": "voksen:d6", "decision_date": "2025-07-02"},
            {**decision, "decision_key": "voksen:d7", "service_code": "SEL107", "application_date": "2025-07-01",
             "decision_date": "2025-07-01", "outcome": "Afslag", "unit_code": ukendt},
        ],
        dim_facility=[
            {"facility_id": "f1", "facility_type": "Herberg §110", "unit_code": herb, "places": 20,
             "active_from": "2020-01-01"},
            {"facility_id": "f2", "facility_type": "Natcafé", "unit_code": "TIL-NAT", "places": 10,
             "active_from": "2020-01-01"},
            {"facility_id": "f4", "facility_type": "Midlertidigt botilbud §107", "unit_code": "TIL-BO107",
             "places": 5, "active_from": "2020-01-01"},
            {"facility_id": "f5", "facility_type": "Forsorgshjem §110", "unit_code": herb, "places": 8,
             "active_from": "2020-01-01"},
        ],
        fact_stay=[
            {**shelter, "stay_key": "t1", "citizen_key": "c1", "check_in": "2025-03-01 12:00",
             "check_out": "2025-04-10 10:00", "discharged_to": "Andet herberg"},
            {**shelter, "stay_key": "t2", "citizen_key": "c2", "check_in": "2025-04-20",
             "check_out": "2025-05-01 09:00", "discharged_to": "§107"},
            {"stay_key": "t3", "facility_id": "f4", "facility_type": "Midlertidigt botilbud §107",
             "citizen_key": "c2", "has_cpr": True, "check_in": "2025-07-31 08:00", "unit_code": "TIL-BO107",
             "area": "Voksne"},
            {**shelter, "stay_key": "t4", "facility_id": "f5", "facility_type": "Forsorgshjem §110",
             "citizen_key": "c3", "check_in": "2025-05-15", "check_out": "2025-06-02 11:00",
             "discharged_to": "Egen bolig"},
            {**shelter, "stay_key": "t5", "facility_id": "f6", "facility_type": "Forsorgshjem §110",
             "citizen_key": "c4", "check_in": "2025-06-01", "check_out": "2025-06-20", "discharged_to": "§108",
             "unit_code": None},
            {"stay_key": "t6", "facility_id": "f2", "facility_type": "Natcafé", "citizen_key": "c4",
             "has_cpr": True, "check_in": "2025-06-24 22:00", "check_out": "2025-06-25 07:00",
             "discharged_to": "Egen bolig", "unit_code": "TIL-NAT", "area": "Voksne"},
            {**shelter, "stay_key": "t7", "citizen_key": None, "has_cpr": False, "check_in": "2025-05-01",
             "check_out": "2025-05-05", "discharged_to": "Egen bolig"},
            {**shelter, "stay_key": "t8", "citizen_key": "c6", "check_in": "2025-03-20",
             "check_out": "2025-04-02", "discharged_to": "Egen bolig"},
            {**shelter, "stay_key": "t9", "citizen_key": "c5", "check_in": "2025-07-01",
             "check_out": "2025-08-01", "discharged_to": "Egen bolig"},
            {**shelter, "stay_key": "t10", "citizen_key": "c7", "check_in": "2025-01-02", "check_out": "2025-01-10"},
            {**shelter, "stay_key": "t11", "facility_id": "f6", "facility_type": "Forsorgshjem §110",
             "citizen_key": "c7", "check_in": "2025-03-01", "check_out": "2025-03-20", "unit_code": None},
        ],
        fact_service=[
            {**housing, "service_key": "voksen:s1", "citizen_key": "c1", "service_code": "SEL107",
             "paragraph_text": "SEL § 107", "start_date": "2025-07-09"},
            {**housing, "service_key": "voksen:s2", "citizen_key": "c3", "service_code": "SEL108",
             "paragraph_text": "SEL § 108", "start_date": "2025-06-02"},
            {**housing, "service_key": "voksen:s3", "citizen_key": "c7", "service_code": "SEL107",
             "paragraph_text": "SEL § 107", "start_date": "2025-05-01"},
        ],
        dim_measure_link=[
            {"service_key": "boern:m1", "source": "boern", "service_id": "m1", "case_key": "boern:k1",
             "citizen_key": "c1", "unit_code": vest, "area": "Børn og Unge", "service_type": "Familiebehandling",
             "deleted": False},
            {"service_key": "voksen:m2", "source": "voksen", "service_id": "m2", "case_key": "voksen:k1",
             "citizen_key": "c3", "unit_code": "CSU-ØST", "area": "Voksne", "service_type": "Bostøtte",
             "deleted": True},
            {"service_key": "boern:m3", "source": "boern", "service_id": "m3", "case_key": "boern:k1",
             "citizen_key": "c1", "unit_code": vest, "area": "Børn og Unge", "service_type": "Ukendt",
             "deleted": False},
        ],
        fact_posting=[
            {**posting, "posting_id": "1", "amount": 1000.0, "service_key": "boern:m1"},
            {**posting, "posting_id": "2", "amount": 1000.0, "service_key": "boern:m1", "duplicate": True},
            {**posting, "posting_id": "3", "booked_date": "2025-10-20", "period_to": "2024-12-31",
             "amount": -250.5},
            {**posting, "posting_id": "4", "booked_date": "2025-11-01", "amount": -400.0, "funktion": "5.28.20",
             "art": "8.6", "money_class": "revenue", "has_reference": False},
            {**posting, "posting_id": "5", "amount": 999.0, "art": "9.4", "money_class": "other"},
            {**posting, "posting_id": "6", "amount": 100.0, "funktion": "5.99.99", "art": "4.6",
             "unit_code": ukendt, "period_to": None, "has_reference": False},
            {**posting, "posting_id": "7", "booked_date": "2025-10-10", "amount": 500.0, "funktion": "5.38.42",
             "unit_code": "OMK6401", "source_system": "voksen", "service_key": "voksen:m2"},
            {**posting, "posting_id": "8", "booked_date": "2025-09-30", "amount": 700.0},
            {**posting, "posting_id": "9", "booked_date": "2025-08-15", "amount": 300.0, "funktion": "5.28.23",
             "service_key": "boern:m3"},
        ],
        fact_budget=[
            {**budget, "budget_id": "b1", "month": 10, "amount": 3000.0},
            {**budget, "budget_id": "b2", "month": 11, "amount": 3000.0},
            {**budget, "budget_id": "b3", "month": 11, "amount": 6000.0, "version": "Korrigeret"},
            {**budget, "budget_id": "b4", "month": 12, "amount": 3000.0},
            {**budget, "budget_id": "b5", "month": 10, "amount": 1000.0, "funktion": "5.38.42",
             "unit_code": "OMK6401"},
            {**budget, "budget_id": "b6", "year": 2024, "month": 11, "amount": 3000.0},
        ],
    )
    save_model(model, tmp_path / "model")
    rows = agree(tmp_path / "model")

    t301, q3 = rows["T3.01"], "2025-09-30"
    assert figure(t301, "share", q3) == (2 / 3, 2, 3)  # d1, d7 of d1, d2, d7
    assert figure(t301, "share", q3, dimension="service_code", dimension_value="SEL85") == (0, 0, 1)
    assert figure(t301, "share", q3, dimension="service_code", dimension_value="SEL83") is None
    assert figure(t301, "share", q3, "unit", "Ukendt") == (1, 1, 1)
    assert figure(t301, "share", q3, "area", "Voksne") == (0.5, 1, 2)  # the system's area of an unknown unit
    assert figure(t301, "share", q3, "center", "Center for Børn og Familier Nord") == (1, 1, 1)  # BFC-VEST on E

    t401, q2 = rows["T4.01"], "2025-06-30"
    assert figure(t401, "count", q2)[0] == 5  # c1, c2, c3, c4, c6
    assert figure(t401, "share", q2) == (3 / 5, 3, 5)
    for step in ("§107", "§108", "Egen bolig"):  # c1, c3 (the tie), c6
        assert figure(t401, "share", q2, dimension="next_step", dimension_value=step) == (1 / 5, 1, 5)
    assert figure(t401, "share", q2, "unit", "Herberger og forsorgshjem") == (3 / 4, 3, 4)
    assert figure(t401, "share", q2, "unit", "Ukendt") == (0, 0, 1)
    q3_share = figure(t401, "share", q3)
    assert figure(t401, "count", q3)[0] == 1 and all(pd.isna(x) for x in q3_share)  # c5, not yet known
    assert figure(t401, "share", q3, dimension="next_step", dimension_value="Egen bolig") is None
    assert figure(t401, "count", "2025-11-15")[0] == 0
    # c7 leaves a herberg on 10 January and a forsorgshjem of no known unit on 20 March; SEL107 starts
    # 111 and 42 days after: the person's first step counts in each unit left
    q1 = "2025-03-31"
    assert figure(t401, "share", q1, "unit", "Herberger og forsorgshjem") == figure(t401, "share", q1, "unit", "Ukendt") \
        == figure(t401, "share", q1, dimension="next_step", dimension_value="§107") == (1, 1, 1)

    t601, q4 = rows["T6.01"], "2025-11-15"
    money = {"expense": 1000 - 250.5 + 100 + 500, "revenue": 400, "net": 949.5,
             "budget": 3000 + 6000 * 15 / 30 + 1000, "deviation": 949.5 - 7000, "prior_year": -250.5}
    for measure, value in money.items():
        assert figure(t601, measure, q4)[0] == value, measure
    assert figure(t601, "share_of_budget", q4) == (949.5 / 7000, 949.5, 7000)
    assert figure(t601, "expense", q4, dimension="foranstaltningstype", dimension_value="Ukendt")[0] == -150.5
    assert figure(t601, "expense", q4, dimension="foranstaltningstype", dimension_value="Bostøtte")[0] == 500
    assert pd.isna(figure(t601, "budget", q4, dimension="foranstaltningstype", dimension_value="Opholdssted")[0])
    assert figure(t601, "expense", q4, dimension="function", dimension_value="Ukendt")[0] == 100
    assert figure(t601, "budget", q4, dimension="kategori", dimension_value="Forebyggende")[0] == 6000
    assert figure(t601, "net", q4, "center", "Center for Børn og Familier Nord")[0] == 1000 - 250.5 - 400
    assert figure(t601, "budget", "2024-11-15")[0] == 1500  # the twin: 15/30 of November 2024
    assert figure(t601, "budget", "2024-12-31")[0] == 3000
    assert figure(t601, "budget", "2024-11-15", "center", "Center for Børn og Familier Syd")[0] == 1500
    assert figure(t601, "share_of_budget", q3)[1:] == (1000, 0)  # P8 + P9, no budget: no value
    # P9's measure has type Ukendt (not on its list): the function's type, as ours reads it
    assert figure(t601, "expense", q3, dimension="foranstaltningstype", dimension_value="Plejefamilie")[0] == 300
