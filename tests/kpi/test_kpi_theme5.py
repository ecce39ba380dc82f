"""T5.01 Sygefravær on hand-built data (2025-Q3: 2025-07-01 .. 2025-09-30, 92 days)."""

from __future__ import annotations

import pandas as pd

import pytest

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


def test_employees_gone_before_the_period_leave_no_rows(make_model, q3_2025):
    # A unit whose only employee left in 2024 has nobody to report on in 2025-Q3.
    model = make_model(dim_employee=[dict(employee_key="old", unit_code="4020303", job_category="Leder",
                                          hired_date="2019-01-01", left_date="2024-06-30", fte=1.0)])
    rows = compute_kpi("T5.01", model, q3_2025)
    assert set(rows["org_level"]) == {"sof"} and len(rows) == 3
