"""Theme 5 on hand-built data (2025-Q3: 2025-07-01 .. 2025-09-30, 92 days): T5.01-T5.05."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.core.periods import quarter_periods
from etl.kpi import compute_kpi

NORD = "Center for Børn og Familier Nord"

EMPLOYEES = [
    # fte-days in Q3: e1 1.0 x 92 = 92; e2 0.5 x 61 (1 Aug - 30 Sep) = 30.5;
    # e3 1.0 x 31 (left 31 Jul) = 31; e4 1.0 x 1 (hired on E) = 1. Total 154.5.
    dict(employee_key="e1", unit_code="4010101", job_category="Socialrådgiver", hired_date="2020-01-01", fte=1.0),
    dict(employee_key="e2", unit_code="4010101", job_category="Pædagog", hired_date="2025-08-01", fte=0.5),
    dict(employee_key="e3", unit_code="4020101", job_category="Socialrådgiver", hired_date="2019-05-01",
         left_date="2025-07-31", fte=1.0),
    dict(employee_key="e4", unit_code="9999999", job_category="Administration", hired_date="2025-09-30", fte=1.0),
]


def absence(key, employee, start, end=None, kind="Egen sygdom"):
    return dict(absence_id=key, employee_key=employee, absence_type=kind, from_date=start, to_date=end)


ABSENCES = [
    absence("a1", "e1", "2025-06-16", "2025-07-05"),   # 20 days in all, 5 in Q3: 5 long
    absence("a2", "e1", "2025-08-04", "2025-08-06"),   # 3 short
    absence("a3", "e2", "2025-09-20", None, "Arbejdsskade"),  # open: 11 days so far on E: 11 short
    absence("a4", "e2", "2025-08-10", "2025-08-12", "Barns sygdom"),  # not sickness
    absence("a5", "e3", "2025-07-10", "2025-07-20"),   # 11 short
    absence("a6", "e1", "2025-09-25", "2025-10-20"),   # 26 days in all, runs past E: 6 long
    absence("a7", "e4", "2025-09-30", "2025-09-30"),   # last day: 1 short (unknown unit)
    absence("a8", "e1", "2025-06-30", "2025-06-30"),   # day before: ytd only
    absence("a9", "e1", "2025-10-01", None),           # day after: nowhere
    absence("a10", "e2", "2025-08-20", "2025-08-18"),  # ends before it starts: left out
    absence("a11", "hr:999", "2025-07-01", "2025-07-01"),  # employee unknown to HR: 1 short
]


@pytest.fixture
def absence_model(make_model):
    return make_model(dim_employee=EMPLOYEES, fact_absence=ABSENCES)


def test_sickness_days_per_fte_annualised(absence_model, q3_2025, pick):
    rows = compute_kpi("T5.01", absence_model, q3_2025)
    per_fte = pick(rows, "per_fte")
    # 38 days / (154.5 / 92 average FTE) x 365 / 92 = 38 x 365 / 154.5
    assert per_fte["numerator"] == 38
    assert per_fte["denominator"] == pytest.approx(154.5 / 92)
    assert per_fte["value"] == pytest.approx(38 * 365 / 154.5)
    assert per_fte["unit"] == "per_fte"


def test_short_and_long_by_whole_absence_length(absence_model, q3_2025, pick):
    rows = compute_kpi("T5.01", absence_model, q3_2025)
    assert pick(rows, "long_days")["value"] == 11   # a1 5 + a6 6
    assert pick(rows, "short_days")["value"] == 27  # a2 3 + a3 11 + a5 11 + a7 1 + a11 1


def test_persons_behind_the_short_and_long_days(absence_model, q3_2025, pick):
    """The employees with days of each kind in the cell (public output blanks days resting on
    fewer than 5): short a2 e1, a3 e2, a5 e3, a7 e4, a11 hr:999; long a1 and a6, both e1."""
    rows = compute_kpi("T5.01", absence_model, q3_2025)
    assert pick(rows, "short_persons")["value"] == 5
    assert pick(rows, "long_persons")["value"] == 1
    assert pick(rows, "short_persons", org_level="center", org_key=NORD)["value"] == 2  # e1, e2
    assert pick(rows, "long_persons", org_level="center", org_key=NORD)["value"] == 1   # e1
    assert pick(rows, "short_persons", dimension="job_category", dimension_value="Socialrådgiver")["value"] == 2
    assert pick(rows, "short_persons", org_level="center", org_key=NORD)["unit"] == "count"


def test_per_center_area_and_unknown_unit(absence_model, q3_2025, pick):
    rows = compute_kpi("T5.01", absence_model, q3_2025)
    nord = pick(rows, "per_fte", org_level="center", org_key=NORD)  # e1 14 days + e2 11; fte-days 122.5
    assert nord["value"] == pytest.approx(25 * 365 / 122.5)
    assert pick(rows, "long_days", org_level="center", org_key=NORD)["value"] == 11
    assert pick(rows, "short_days", org_level="center", org_key=NORD)["value"] == 14
    voksne = pick(rows, "per_fte", org_level="area", org_key="Voksne")  # e3 11 days; fte-days 31
    assert voksne["value"] == pytest.approx(11 * 365 / 31)
    unknown = pick(rows, "per_fte", org_level="area", org_key="Ukendt")  # e4 + hr:999: 2 days; 1 fte-day
    assert unknown["value"] == pytest.approx(2 * 365 / 1)


def test_job_category_without_fte_has_no_rate(absence_model, q3_2025, pick):
    rows = compute_kpi("T5.01", absence_model, q3_2025)
    social_workers = pick(rows, "per_fte", dimension="job_category", dimension_value="Socialrådgiver")
    assert social_workers["value"] == pytest.approx(25 * 365 / 123)  # e1 14 + e3 11; 92 + 31
    unknown = pick(rows, "per_fte", dimension="job_category", dimension_value="Ukendt")  # hr:999
    assert (unknown["numerator"], unknown["denominator"]) == (1, 0)
    assert pd.isna(unknown["value"])


def test_year_to_date_takes_whole_absences(absence_model, ytd_q3_2025, pick):
    rows = compute_kpi("T5.01", absence_model, ytd_q3_2025)
    assert pick(rows, "long_days")["value"] == 26   # a1 all 20 + a6 6
    assert pick(rows, "short_days")["value"] == 28  # Q3's 27 + a8


def test_average_fte_over_the_period(make_model, q3_2025, pick):
    # Full time all quarter (92) + full time for the last 46 days (46): 138 / 92 = 1.5 FTE.
    model = make_model(dim_employee=[
        dict(employee_key="x", unit_code="4010101", job_category="Leder", hired_date="2024-01-01", fte=1.0),
        dict(employee_key="y", unit_code="4010101", job_category="Leder", hired_date="2025-08-16", fte=1.0),
    ], fact_absence=[absence("s", "x", "2025-07-01", "2025-07-03")])
    per_fte = pick(compute_kpi("T5.01", model, q3_2025), "per_fte")
    assert per_fte["denominator"] == pytest.approx(1.5)
    assert per_fte["value"] == pytest.approx(3 / 1.5 * 365 / 92)


def test_empty_period_has_totals_without_division_by_zero(make_model, q3_2025, pick):
    rows = compute_kpi("T5.01", make_model(), q3_2025)
    per_fte = pick(rows, "per_fte")
    assert (per_fte["numerator"], per_fte["denominator"]) == (0, 0)
    assert pd.isna(per_fte["value"])
    assert pick(rows, "short_days")["value"] == 0
    assert pick(rows, "long_days")["value"] == 0
    assert pick(rows, "short_persons")["value"] == 0 and pick(rows, "long_persons")["value"] == 0


def test_employees_gone_before_the_period_leave_no_rows(make_model, q3_2025):
    # A unit whose only employee left in 2024 has nobody to report on in 2025-Q3.
    model = make_model(dim_employee=[dict(employee_key="old", unit_code="4020303", job_category="Leder",
                                          hired_date="2019-01-01", left_date="2024-06-30", fte=1.0)])
    rows = compute_kpi("T5.01", model, q3_2025)
    assert set(rows["org_level"]) == {"sof"} and len(rows) == 5


# --- T5.02 Personaleomsætning -------------------------------------------------------

def employee(key, left=None, reason=None, hired="2020-01-01", job="Pædagog", unit="4010101"):
    return dict(employee_key=key, unit_code=unit, job_category=job, hired_date=hired, left_date=left,
                leave_reason=reason, fte=1.0)


TURNOVER_STAFF = [
    # Days employed in Q3 (July 31, August 31, September 30; 92 in all):
    employee("t1", job="Socialrådgiver"),                                      # 31 31 30 = 92
    employee("t2", "2025-07-01", "Egen opsigelse", job="Socialrådgiver"),      # 1: leaves on the first day
    employee("t3", "2025-09-30", "Pension"),                                   # 92: leaves on the last day
    employee("t4", "2025-08-15", "Død"),                                       # 31 15 = 46: not turnover
    employee("t5", "2025-06-30", "Egen opsigelse"),                            # left the day before: nowhere
    employee("t6", hired="2025-08-01"),                                        # 31 30 = 61
    employee("t7", "2025-08-31", None),                                        # 31 31 = 62: no reason given
    employee("t8", "2025-10-01", "Afskediget", unit="4020101"),                # 92: leaves after E
]
# Headcount-days 92 + 1 + 92 + 46 + 61 + 62 + 92 = 446: average headcount 446 / 92.
# Leavers: t2, t3, t7 (share); t2, t7 (voluntary).


@pytest.fixture
def turnover_rows(make_model, q3_2025):
    return compute_kpi("T5.02", make_model(dim_employee=TURNOVER_STAFF), q3_2025)


def test_turnover_share_and_voluntary(turnover_rows, pick):
    share, voluntary = pick(turnover_rows, "share"), pick(turnover_rows, "share_voluntary")
    assert share["numerator"] == 3 and share["denominator"] == pytest.approx(446 / 92)
    assert share["value"] == pytest.approx(3 * 92 / 446)
    assert voluntary["numerator"] == 2 and voluntary["value"] == pytest.approx(2 * 92 / 446)


def test_turnover_per_month(turnover_rows, pick):
    # July: 31 + 1 + 31 + 31 + 31 + 31 = 156 headcount-days / 31; t2 leaves.
    july = pick(turnover_rows, "share", dimension="month", dimension_value="2025-07")
    assert july["numerator"] == 1 and july["denominator"] == pytest.approx(156 / 31)
    # August: 31 + 31 + 15 + 31 + 31 + 31 = 170 / 31; t7 leaves (t4's death is not turnover).
    august = pick(turnover_rows, "share", dimension="month", dimension_value="2025-08")
    assert august["numerator"] == 1 and august["denominator"] == pytest.approx(170 / 31)
    # September: t1, t3, t6, t8 all month: 4; t3 retires: turnover, not voluntary.
    september = pick(turnover_rows, "share_voluntary", dimension="month", dimension_value="2025-09")
    assert (september["numerator"], september["denominator"], september["value"]) == (0, 4, 0)
    assert pick(turnover_rows, "share", dimension="month", dimension_value="2025-09")["value"] == 0.25


def test_turnover_by_reason_keeps_the_whole_headcount(turnover_rows, pick):
    average = 446 / 92
    for reason, share, voluntary in (("Egen opsigelse", 1, 1), ("Pension", 1, 0), ("Ukendt", 1, 1), ("Død", 0, 0)):
        row = pick(turnover_rows, "share", dimension="leave_reason", dimension_value=reason)
        assert row["numerator"] == share and row["denominator"] == pytest.approx(average)
        assert pick(turnover_rows, "share_voluntary", dimension="leave_reason",
                    dimension_value=reason)["numerator"] == voluntary


def test_turnover_by_job_category_and_org(turnover_rows, pick):
    social_workers = pick(turnover_rows, "share", dimension="job_category", dimension_value="Socialrådgiver")
    assert social_workers["numerator"] == 1 and social_workers["denominator"] == pytest.approx(93 / 92)
    voksne = pick(turnover_rows, "share", org_level="area", org_key="Voksne")        # t8 only
    assert (voksne["numerator"], voksne["denominator"], voksne["value"]) == (0, 1, 0)
    nord = pick(turnover_rows, "share", org_level="center", org_key=NORD)
    assert nord["numerator"] == 3 and nord["denominator"] == pytest.approx(354 / 92)


def test_turnover_running_quarter_and_empty(make_model, pick):
    # E = 2025-08-15 (46 days); August is the 15 days up to E; t4 dies on E.
    model = make_model(extraction_date=dt.date(2025, 8, 15),
                       dim_employee=[employee("a"), employee("b", "2025-08-15", "Død"),
                                     employee("c", "2025-08-10", "Egen opsigelse")])
    rows = compute_kpi("T5.02", model, quarter_periods(2025, 3, dt.date(2025, 8, 15))[0])
    august = pick(rows, "share", dimension="month", dimension_value="2025-08")
    assert august["numerator"] == 1 and august["denominator"] == pytest.approx((15 + 15 + 10) / 15)
    assert pick(rows, "share")["denominator"] == pytest.approx((46 + 46 + 41) / 46)
    empty = pick(compute_kpi("T5.02", make_model(), quarter_periods(2025, 3, dt.date(2025, 10, 15))[0]), "share")
    assert (empty["numerator"], empty["denominator"]) == (0, 0) and pd.isna(empty["value"])


# --- T5.03 Forgæves rekrutteringer --------------------------------------------------

def recruitment(key, closed, result, job="Socialrådgiver", unit="4010101"):
    return dict(recruitment_id=key, unit_code=unit, job_category=job, posted_date="2025-05-01",
                closed_date=closed, result=result)


def test_failed_recruitments(make_model, q3_2025, pick):
    recruitments = [
        recruitment("r1", "2025-07-01", "Forgæves"),                      # first day
        recruitment("r2", "2025-09-30", "Besat"),                         # last day
        recruitment("r3", "2025-08-01", "Annulleret", job="Pædagog"),     # neither
        recruitment("r4", "2025-08-02", "Forgæves", job="Pædagog", unit="9999999"),  # unknown unit
        recruitment("r5", "2025-06-30", "Forgæves"),                      # the day before
        recruitment("r6", None, None),                                    # still open
        recruitment("r7", "2025-10-01", "Besat"),                         # the day after
        recruitment("r8", "2025-08-10", None),                            # closed without a result
    ]
    rows = compute_kpi("T5.03", make_model(fact_recruitment=recruitments), q3_2025)
    assert pick(rows)["value"] == 2
    share = pick(rows, "share")
    assert (share["numerator"], share["denominator"]) == (2, 3)
    assert pick(rows, "share", dimension="job_category", dimension_value="Socialrådgiver")["value"] == 0.5
    assert pick(rows, "share", dimension="job_category", dimension_value="Pædagog")["value"] == 1
    assert pick(rows, org_level="area", org_key="Ukendt")["value"] == 1
    assert pick(rows, "share", org_level="center", org_key=NORD)["value"] == 0.5


def test_failed_recruitments_none_decided(make_model, q3_2025, pick):
    rows = compute_kpi("T5.03", make_model(fact_recruitment=[recruitment("r", "2025-08-01", "Annulleret")]), q3_2025)
    assert pick(rows)["value"] == 0
    share = pick(rows, "share")
    assert (share["numerator"], share["denominator"]) == (0, 0) and pd.isna(share["value"])


# --- T5.04 Vold og trusler ----------------------------------------------------------

def incident(key, day, category, employee=None, unit="4010101", facility=None):
    return dict(incident_id=key, employee_key=employee, unit_code=unit, facility_id=facility,
                incident_date=day, category=category)


def test_violence_and_threats(make_model, q3_2025, ytd_q3_2025, pick):
    incidents = [
        incident("i1", "2025-07-01", "Fysisk vold", "e1", unit="4020302", facility="17"),
        incident("i2", "2025-09-30", "Trussel"),                          # no employee: still counted
        incident("i3", "2025-06-30", "Trussel"),                          # the day before: ÅTD only
        incident("i4", "2025-10-01", "Chikane"),
        incident("i5", "2025-08-10", "Trussel", "e2", unit="4020302", facility="17"),
    ]
    model = make_model(fact_incident=incidents)
    rows = compute_kpi("T5.04", model, q3_2025)
    assert pick(rows)["value"] == 3
    assert pick(rows, dimension="category", dimension_value="Trussel")["value"] == 2
    assert pick(rows, dimension="category", dimension_value="Fysisk vold")["value"] == 1
    assert pick(rows, dimension="facility", dimension_value="17")["value"] == 2
    assert pick(rows, dimension="facility", dimension_value="Ukendt")["value"] == 1
    assert pick(rows, org_level="center", org_key="Center for Rusmiddel og Hjemløshed")["value"] == 2
    assert pick(compute_kpi("T5.04", model, ytd_q3_2025))["value"] == 4
    assert pick(compute_kpi("T5.04", make_model(), q3_2025))["value"] == 0


# --- T5.05 Hændelser efterfulgt af langt sygefravær ----------------------------------

FOLLOW_UP_INCIDENTS = [
    incident("n1", "2025-07-01", "Fysisk vold", "e1"),   # 15-day absence from day 14: followed
    incident("n9", "2025-07-10", "Fysisk vold", "e1"),   # the same absence, day 5: followed
    incident("n2", "2025-08-01", "Trussel", "e2"),       # long absence from day 15: not
    incident("n3", "2025-08-05", "Trussel", "e3"),       # 14-day absence from day 0: short
    incident("n4", "2025-09-30", "Chikane", "e4"),       # open absence from day 14, 15 days so far
    incident("n5", "2025-08-01", "Chikane"),             # no employee: not in the share
    incident("n6", "2025-09-01", "Andet", "e5"),         # child's sickness is not sickness absence
    incident("n7", "2025-09-10", "Andet", "e6"),         # long absence started before the incident
    incident("n8", "2025-09-15", "Andet", "e7"),         # absence ends before it starts: left out
    incident("n0", "2025-06-30", "Trussel", "e1"),       # the day before S
]
FOLLOW_UP_ABSENCES = [
    absence("b1", "e1", "2025-07-15", "2025-07-29"),
    absence("b2", "e2", "2025-08-16", "2025-09-30", "Arbejdsskade"),
    absence("b3", "e3", "2025-08-05", "2025-08-18"),
    absence("b4", "e4", "2025-10-14", None, "Arbejdsskade"),
    absence("b6", "e5", "2025-09-02", "2025-09-30", "Barns sygdom"),
    absence("b7", "e6", "2025-09-05", "2025-10-30"),
    absence("b8", "e7", "2025-09-16", "2025-09-01"),
]


def test_incidents_followed_by_long_absence(make_model, q3_2025, pick):
    # 2025-10-28 = E + 28: b4 (from 2025-10-14) has lasted 15 days. Followed: n1, n9, n4 of 8.
    model = make_model(extraction_date=dt.date(2025, 10, 28), fact_incident=FOLLOW_UP_INCIDENTS,
                       fact_absence=FOLLOW_UP_ABSENCES)
    rows = compute_kpi("T5.05", model, q3_2025)
    share = pick(rows, "share")
    assert (share["numerator"], share["denominator"]) == (3, 8)
    assert pick(rows, "share", dimension="category", dimension_value="Fysisk vold")["value"] == 1
    assert pick(rows, "share", dimension="category", dimension_value="Chikane")["value"] == 1   # n4 (not n5)
    trussel = pick(rows, "share", dimension="category", dimension_value="Trussel")
    assert (trussel["numerator"], trussel["denominator"], trussel["value"]) == (0, 2, 0)
    assert pick(rows, "share", dimension="category", dimension_value="Andet")["denominator"] == 3


def test_incident_share_not_yet_available_before_E_plus_28_days(make_model, q3_2025, pick):
    model = make_model(extraction_date=dt.date(2025, 10, 27), fact_incident=FOLLOW_UP_INCIDENTS,
                       fact_absence=FOLLOW_UP_ABSENCES)
    rows = compute_kpi("T5.05", model, q3_2025)
    share = pick(rows, "share")
    assert pd.isna(share["value"]) and pd.isna(share["numerator"]) and pd.isna(share["denominator"])
    assert rows["dimension"].isna().all() and rows["value"].isna().all()


def test_incident_share_empty_period(make_model, q3_2025, pick):
    share = pick(compute_kpi("T5.05", make_model(extraction_date=dt.date(2026, 1, 1)), q3_2025), "share")
    assert (share["numerator"], share["denominator"]) == (0, 0) and pd.isna(share["value"])
