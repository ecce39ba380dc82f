"""T3.02 Underretninger vurderet inden for 24 timer on hand-built data."""

from __future__ import annotations

import datetime as dt
import pandas as pd

import pytest

from etl.kpi import compute_kpi
from etl.periods import quarter_periods

BOERN = "Børn og Unge"
NORD, SYD = "Center for Børn og Familier Nord", "Center for Børn og Familier Syd"


def notification(key, received, assessed=None, acute=False, unit="BFC-NORD"):
    return dict(notification_id=key, citizen_key=f"child-{key}", received_at=received, assessed_at=assessed,
                notification_source="Skole", acute=acute, unit_code=unit, area=BOERN)


CLOSED_Q3 = [
    notification("n1", "2025-07-01 00:00", "2025-07-02 00:00", acute=True),      # first day; exactly 24 h: in time
    notification("n2", "2025-09-30 23:59", "2025-10-01 09:00", unit="BFC-SYD"),  # last day; 9 h: in time
    notification("n3", "2025-06-30 23:59", "2025-07-01 22:00"),                  # day before: ytd only (in time)
    notification("n4", "2025-10-01 00:00", "2025-10-01 05:00"),                  # day after: nowhere
    notification("n5", "2025-08-01 10:00", "2025-08-02 10:00:01"),               # 24 h + 1 s: late
    notification("n6", "2025-08-05 08:00", None, acute=True, unit="BFC-SYD"),    # never assessed: late
    notification("n7", "2025-08-10 12:00", "2025-08-10 11:00", unit="BFC-XXX"),  # assessed before received
]


@pytest.fixture
def closed_model(make_model):
    return make_model(extraction_time=dt.datetime(2025, 10, 15, 2, 0), fact_notification=CLOSED_Q3)


def test_share_in_time_exact_24h_and_overdue(closed_model, q3_2025, pick):
    rows = compute_kpi("T3.02", closed_model, q3_2025)
    share = pick(rows, "share")
    # in time: n1, n2; eligible: n1, n2, n5, n6 (n7 contradictory is left out).
    assert (share["numerator"], share["denominator"], share["value"]) == (2, 4, 0.5)
    assert share["unit"] == "share"


def test_count_includes_contradictory_dates(closed_model, q3_2025, pick):
    rows = compute_kpi("T3.02", closed_model, q3_2025)
    assert pick(rows, "count")["value"] == 5  # n1, n2, n5, n6, n7


def test_acute_breakdown(closed_model, q3_2025, pick):
    rows = compute_kpi("T3.02", closed_model, q3_2025)
    acute = pick(rows, "share", dimension="acute", dimension_value="true")       # n1 in time, n6 late
    assert (acute["numerator"], acute["denominator"]) == (1, 2)
    not_acute = pick(rows, "share", dimension="acute", dimension_value="false")  # n2 in time, n5 late
    assert (not_acute["numerator"], not_acute["denominator"]) == (1, 2)
    assert pick(rows, "count", dimension="acute", dimension_value="false")["value"] == 3  # n2, n5, n7


def test_centers_and_unknown_unit_without_eligible_notifications(closed_model, q3_2025, pick):
    rows = compute_kpi("T3.02", closed_model, q3_2025)
    nord = pick(rows, "share", org_level="center", org_key=NORD)  # n1 in time, n5 late
    assert (nord["numerator"], nord["denominator"]) == (1, 2)
    syd = pick(rows, "share", org_level="center", org_key=SYD)    # n2 in time, n6 late
    assert (syd["numerator"], syd["denominator"]) == (1, 2)
    # n7 alone at an unknown unit: a row with 0/0 and no value, but it is counted.
    unknown = pick(rows, "share", org_level="center", org_key="Ukendt")
    assert (unknown["numerator"], unknown["denominator"]) == (0, 0)
    assert pd.isna(unknown["value"])
    assert pick(rows, "count", org_level="center", org_key="Ukendt")["value"] == 1
    area = pick(rows, "share", org_level="area", org_key=BOERN)
    assert (area["numerator"], area["denominator"]) == (2, 4)


def test_year_to_date(closed_model, ytd_q3_2025, pick):
    rows = compute_kpi("T3.02", closed_model, ytd_q3_2025)
    share = pick(rows, "share")  # n3 (22 h 01 min) joins as in time
    assert (share["numerator"], share["denominator"]) == (3, 5)
    assert pick(rows, "count")["value"] == 6


def test_unassessed_late_only_after_24_hours_before_extraction(make_model, pick):
    # Running quarter extracted 2025-09-30 12:00 (E = 2025-09-30).
    model = make_model(extraction_date=dt.date(2025, 9, 30), extraction_time=dt.datetime(2025, 9, 30, 12, 0),
                       fact_notification=[
                           notification("a", "2025-09-29 11:59"),  # 24 h 01 min ago: late
                           notification("b", "2025-09-29 12:00"),  # exactly 24 h ago: could still be in time
                           notification("c", "2025-09-30 00:30"),  # 11 h 30 min ago: left out
                       ])
    rows = compute_kpi("T3.02", model, quarter_periods(2025, 3, dt.date(2025, 9, 30))[0])
    share = pick(rows, "share")
    assert (share["numerator"], share["denominator"], share["value"]) == (0, 1, 0.0)
    assert pick(rows, "count")["value"] == 3


def test_no_notifications_gives_zero_count_and_empty_share(make_model, q3_2025, pick):
    rows = compute_kpi("T3.02", make_model(), q3_2025)
    share = pick(rows, "share")
    assert (share["numerator"], share["denominator"]) == (0, 0)
    assert pd.isna(share["value"])
    assert pick(rows, "count")["value"] == 0
