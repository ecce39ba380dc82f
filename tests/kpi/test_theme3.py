"""T3.02 Underretninger vurderet inden for 24 timer on hand-built data."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.core import vocabulary
from etl.core.periods import add_months, quarter_periods
from etl.kpi import compute_kpi
from etl.kpi.aggregate import add_months_to
from etl.kpi.theme3 import APPEALS_OUTCOME_LABELS, plan_window

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


# --- shared for T3.01-T3.09 ---------------------------------------------------------------

VOKSNE = "Voksne"


def q(year, quarter, extraction=dt.date(2026, 4, 15)):
    return quarter_periods(year, quarter, extraction)[0]


def ytd(year, quarter, extraction=dt.date(2026, 4, 15)):
    return quarter_periods(year, quarter, extraction)[1]


def fraction(row):
    return row["numerator"], row["denominator"]


def decision(key, decided, applied=None, code="SEL85", source="voksen", outcome="Bevilget", unit=None,
             paragraph=None, deadline=None):
    return dict(decision_key=key, source=source, decision_date=decided, application_date=applied,
                service_code=code, paragraph_text=paragraph, outcome=outcome, deadline_date=deadline,
                unit_code=unit or ("BFC-NORD" if source == "boern" else "CSU-ØST"),
                area=BOERN if source == "boern" else VOKSNE)


DEADLINES = [dict(service_code="SEL85", deadline_days=56, basis="8 weeks"),
             dict(service_code="BL46", deadline_days=56, basis="published"),
             dict(service_code="SEL101", deadline_days=14, basis="statutory")]


# --- T3.01 Fristoverholdelse ---------------------------------------------------------------

@pytest.fixture
def deadline_model(make_model):
    return make_model(ref_deadline=DEADLINES, fact_decision=[
        decision("d1", "2025-07-01", "2025-05-06"),                    # first day; 56 days: in time
        decision("d2", "2025-09-30", "2025-08-04", deadline="2025-12-31"),  # last day; 57 days: late
        #                                                     (its own FristDato would be in time: ignored)
        decision("d3", "2025-08-01", "2025-07-01", code="BL46", source="boern", outcome="Afslag",
                 paragraph="SEL § 52, stk. 3, nr. 7"),                 # old SEL text, refusal: in time
        decision("d4", "2025-08-01", None),                            # no application date: left out
        decision("d5", "2025-08-01", "2025-07-01", code=None, paragraph="SEL §999"),  # unmapped: left out
        decision("d6", "2025-08-01", "2025-07-01", code="BL20", source="boern"),      # no deadline: left out
        decision("d7", "2025-08-01", "2025-08-10"),                    # decided before applied: left out
        decision("d8", "2025-06-30", "2025-06-01"),                    # ytd only: in time
        decision("d9", "2025-07-16", "2025-07-01", code="SEL101", unit="CRM-01"),  # 15 > 14: late
    ])


def test_deadline_compliance(deadline_model, q3_2025, pick):
    rows = compute_kpi("T3.01", deadline_model, q3_2025)
    assert fraction(pick(rows, "share")) == (2, 4)                 # d1, d3 of d1, d2, d3, d9
    assert pick(rows, "share")["value"] == 0.5
    assert fraction(pick(rows, "share", dimension="service_code", dimension_value="SEL85")) == (1, 2)
    assert fraction(pick(rows, "share", dimension="service_code", dimension_value="BL46")) == (1, 1)
    assert fraction(pick(rows, "share", dimension="service_code", dimension_value="SEL101")) == (0, 1)
    assert not (rows["dimension_value"].isin(["Ukendt", "BL20"])).any()
    assert fraction(pick(rows, "share", org_level="area", org_key=BOERN)) == (1, 1)
    assert fraction(pick(rows, "share", org_level="center", org_key="Center for Rusmiddel og Hjemløshed")) == (0, 1)


def test_deadline_compliance_year_to_date(deadline_model, ytd_q3_2025, pick):
    assert fraction(pick(compute_kpi("T3.01", deadline_model, ytd_q3_2025), "share")) == (3, 5)


# --- T3.03 Rettidige børnefaglige undersøgelser --------------------------------------------

def investigation(key, start, completed, child=None, unit="BFC-NORD"):
    return dict(investigation_id=key, case_key=f"case-{key}", citizen_key=child or f"child-{key}",
                paragraph_text="BL §20", service_code="BL20", start_date=start, completed_date=completed,
                unit_code=unit)


def test_add_months_to_is_add_months_on_every_day():
    days = pd.Series(pd.date_range("2023-01-01", "2026-12-31", freq="D")).astype("datetime64[s]")
    for months in (-12, -3, 3, 4):
        expected = [pd.Timestamp(add_months(day.date(), months)) for day in days]
        assert add_months_to(days, months).tolist() == expected
    assert add_months_to(pd.Series([pd.NaT], dtype="datetime64[s]"), 4).isna().all()


@pytest.fixture
def investigation_model(make_model):
    return make_model(fact_investigation=[
        investigation("i1", "2025-03-31", "2025-07-31"),   # deadline Jul 31: in time, on the day
        investigation("i2", "2025-03-31", "2025-08-01"),   # late by a day
        investigation("i3", "2025-05-31", "2025-09-30"),   # deadline Sep 30 (no Sep 31): in time, last day
        investigation("i4", "2025-04-30", "2025-08-31", unit="BFC-SYD"),  # deadline Aug 30 (same day): late
        investigation("i5", "2025-08-10", "2025-08-01"),   # completed before started: left out
        investigation("i6", "2025-08-10", None),           # not completed
        investigation("i7", "2025-03-01", "2025-06-30"),   # ytd only: deadline Jul 1, in time
        investigation("i8", "2024-10-31", "2025-02-28"),   # deadline 2025-02-28: ytd, in time
    ])


def test_investigations_in_time(investigation_model, q3_2025, pick):
    rows = compute_kpi("T3.03", investigation_model, q3_2025)
    assert fraction(pick(rows, "share")) == (2, 4)         # i1, i3 of i1-i4
    assert fraction(pick(rows, "share", org_level="center", org_key="Center for Børn og Familier Syd")) == (0, 1)
    assert fraction(pick(rows, "share", org_level="area", org_key=BOERN)) == (2, 4)


def test_investigations_in_time_year_to_date(investigation_model, ytd_q3_2025, pick):
    assert fraction(pick(compute_kpi("T3.03", investigation_model, ytd_q3_2025), "share")) == (4, 6)


def test_investigation_deadline_at_month_end_and_leap_day(make_model, pick):
    model = make_model(fact_investigation=[
        investigation("a", "2025-10-31", "2026-02-28"),   # 2025-10-31 + 4 months = 2026-02-28: in time
        investigation("b", "2025-10-31", "2026-03-01"),   # late
        investigation("c", "2023-10-31", "2024-02-29"),   # + 4 months = 2024-02-29 (leap): in time
        investigation("d", "2023-10-29", "2024-02-29"),   # deadline 2024-02-29: in time
        investigation("e", "2023-10-28", "2024-02-29"),   # deadline 2024-02-28: late
    ])
    assert fraction(pick(compute_kpi("T3.03", model, q(2026, 1)), "share")) == (1, 2)
    assert fraction(pick(compute_kpi("T3.03", model, q(2024, 1)), "share")) == (2, 3)


# --- T3.04 Sagstid fra underretning til afsluttet undersøgelse -----------------------------

def note(key, child, received):
    return dict(notification_id=key, citizen_key=child, received_at=received, notification_source="Skole",
                acute=False, unit_code="BFC-NORD", area=BOERN)


@pytest.fixture
def notified_model(make_model):
    return make_model(fact_investigation=[
        investigation("v1", "2025-05-01", "2025-08-01", child="k1"),
        investigation("v2", "2025-06-15", "2025-09-30", child="k2"),
        investigation("v3", "2025-06-01", "2025-07-01", child="k3"),
        investigation("v4", "2025-07-10", "2025-07-05", child="k4"),   # completed before started
        investigation("v5", "2024-02-29", "2025-07-15", child="k5"),
        investigation("v6", "2025-01-10", "2025-06-30", child="k1"),   # ytd only
    ], fact_notification=[
        note("n1", "k1", "2024-05-01 10:00"),   # v1: start - 12 months exactly (in window); v6: in window
        note("n2", "k1", "2025-04-20 08:00"),   # v1: the latest in its window -> 103 days
        note("n3", "k1", "2025-05-02 08:00"),   # after v1's start: not in its window
        note("n4", "k2", "2024-06-14 09:00"),   # v2: a day before its window -> v2 not measured
        note("n5", "k3", "2025-06-01 23:00"),   # v3: on its start date (window includes it) -> 30 days
        note("n6", "k4", "2025-07-01 09:00"),   # v4: counted, no duration
        note("n7", "k5", "2023-02-28 09:00"),   # v5: 2024-02-29 - 12 months = 2023-02-28 -> 868 days
        note("n8", None, "2025-05-30 09:00"),   # no child
    ])


def test_notification_to_completed_investigation(notified_model, q3_2025, pick):
    rows = compute_kpi("T3.04", notified_model, q3_2025)
    assert pick(rows)["value"] == 4                          # v1, v3, v4, v5
    median = pick(rows, "median_days")                       # [30, 103, 868]
    assert (median["value"], median["denominator"]) == (103, 3)
    mean = pick(rows, "mean_days")
    assert (mean["numerator"], mean["denominator"]) == (1001, 3)
    assert mean["value"] == pytest.approx(1001 / 3)


def test_notification_to_completed_investigation_year_to_date(notified_model, ytd_q3_2025, pick):
    rows = compute_kpi("T3.04", notified_model, ytd_q3_2025)
    assert pick(rows)["value"] == 5                          # + v6 (425 days from n1)
    assert pick(rows, "median_days")["value"] == 103         # [30, 103, 425, 868]: lower median


# --- T3.05 Klager ---------------------------------------------------------------------------

def complaint(key, received, decided=None, reconsideration=None, appeals=None, kind="Afgørelse",
              cause="Afslag", system="boern", unit="SOF-ADM"):
    return dict(complaint_id=key, received_date=received, decided_date=decided, reconsideration=reconsideration,
                appeals_outcome=appeals, complaint_type=kind, cause=cause, source_system=system, unit_code=unit)


@pytest.fixture
def complaint_rows(make_model, q3_2025):
    return compute_kpi("T3.05", make_model(fact_complaint=[
        complaint("k1", "2025-07-01"),                                                  # received, open
        complaint("k2", "2025-05-01", "2025-08-01", reconsideration="Medhold"),         # decided: Medhold
        complaint("k3", "2025-07-15", "2025-09-30", "Fastholdt", "Ændret", system="voksen"),  # Omgjort
        complaint("k4", "2025-03-01", "2025-07-01", appeals="Ophævet"),                 # Omgjort
        complaint("k5", "2025-08-01", "2025-08-20", "Fastholdt", "Stadfæstet", kind="Sagsbehandlingstid",
                  system="voksen"),
        complaint("k6", "2025-04-01", "2025-09-01", "Medhold", "Stadfæstet"),           # Medhold wins
        complaint("k7", "2025-06-01", "2025-10-01", appeals="Hjemvist"),                # decided after E
        complaint("k8", "2025-09-30", kind="Andet", cause=None, system=None, unit="XXX"),  # last day
        complaint("k9", "2025-01-01", "2025-08-05"),                                    # decided, no outcome
        complaint("k12", "2025-06-01", "2025-07-10", kind="Personale", cause="Optræden"),  # handled: Behandlet
        complaint("k10", "2025-02-01", "2025-07-20", "Fastholdt", "Afvist"),
        complaint("k11", "2025-06-30", "2025-06-30", appeals="Hjemvist"),               # ytd only
    ]), q3_2025)


def test_complaints_received(complaint_rows, pick):
    assert pick(complaint_rows, "received")["value"] == 4          # k1, k3, k5, k8
    assert pick(complaint_rows, "received", dimension="source_system", dimension_value="boern")["value"] == 1
    assert pick(complaint_rows, "received", dimension="source_system", dimension_value="Ukendt")["value"] == 1
    assert pick(complaint_rows, "received", dimension="complaint_type", dimension_value="Afgørelse")["value"] == 2
    assert pick(complaint_rows, "received", dimension="cause", dimension_value="Ukendt")["value"] == 1
    assert not ((complaint_rows["measure"] == "received") & (complaint_rows["dimension"] == "outcome")).any()


def test_complaints_decided_by_outcome(complaint_rows, pick):
    assert pick(complaint_rows, "decided")["value"] == 8           # k2, k3, k4, k5, k6, k9, k10, k12

    def outcome(value):
        return pick(complaint_rows, "decided", dimension="outcome", dimension_value=value)["value"]
    assert (outcome("Medhold"), outcome("Omgjort"), outcome("Stadfæstet"), outcome("Afvist"),
            outcome("Ukendt"), outcome("Behandlet")) == (2, 2, 1, 1, 1, 1)
    assert not complaint_rows["dimension_value"].isin(["Ændret", "Ophævet", "Hjemvist"]).any()


def test_complaints_organisation_from_their_unit(complaint_rows, pick):
    assert pick(complaint_rows, "received", org_level="unit", org_key="Klage- og juraenheden")["value"] == 3
    assert pick(complaint_rows, "received", org_level="area", org_key="Tværgående")["value"] == 3
    assert pick(complaint_rows, "received", org_level="center", org_key="Ukendt")["value"] == 1   # k8


def test_complaints_year_to_date(make_model, ytd_q3_2025, pick):
    model = make_model(fact_complaint=[complaint("k11", "2025-06-30", "2025-06-30", appeals="Hjemvist"),
                                       complaint("k12", "2024-12-31", "2025-01-01", appeals="Ændret")])
    rows = compute_kpi("T3.05", model, ytd_q3_2025)
    assert (pick(rows, "received")["value"], pick(rows, "decided")["value"]) == (1, 2)
    assert pick(rows, "decided", dimension="outcome", dimension_value="Hjemvist")["value"] == 1


# --- T3.06 Venteliste til botilbud ----------------------------------------------------------

def test_waiting_list_on_e(make_model, q3_2025, pick):
    model = make_model(fact_waiting_list=[
        dict(waiting_id="w1", citizen_key="p1", offer_type="§107", listed_date="2025-09-30"),  # 0 days
        dict(waiting_id="w2", citizen_key="p1", offer_type="§108", listed_date="2025-07-01"),  # 91 days
        dict(waiting_id="w3", citizen_key="p2", offer_type="§108", listed_date="2024-09-30",
             left_date="2025-09-30", left_reason="Tilbudt plads"),                           # left on E: 365
        dict(waiting_id="w4", citizen_key="p3", offer_type="ABL §105", listed_date="2025-01-01",
             left_date="2025-09-29"),                                                          # left before E
        dict(waiting_id="w5", citizen_key="p4", offer_type="§107", listed_date="2025-10-01"),  # after E
        dict(waiting_id="w6", citizen_key="p5", offer_type="§107", listed_date="2024-02-29"),  # 579 days
    ])
    rows = compute_kpi("T3.06", model, q3_2025)
    assert pick(rows)["value"] == 3                                         # p1 (on two lists), p2, p5
    median = pick(rows, "median_days")                                      # [0, 91, 365, 579]
    assert (median["value"], median["denominator"]) == (91, 4)
    assert pick(rows, dimension="offer_type", dimension_value="§107")["value"] == 2
    assert pick(rows, "median_days", dimension="offer_type", dimension_value="§107")["value"] == 0  # [0, 579]
    assert pick(rows, "median_days", dimension="offer_type", dimension_value="§108")["value"] == 91
    assert not (rows["dimension_value"] == "ABL §105").any()
    assert pick(rows, org_level="area", org_key=VOKSNE)["value"] == 3
    assert set(rows["org_level"]) == {"sof", "area"}


def test_waiting_list_is_a_stock(make_model, ytd_q3_2025):
    with pytest.raises(ValueError, match="stock"):
        compute_kpi("T3.06", make_model(), ytd_q3_2025)


# --- T3.07 Magtanvendelser -------------------------------------------------------------------

@pytest.fixture
def force_rows(make_model, q3_2025):
    facilities = [dict(facility_id="f1", facility_type="Længerevarende botilbud §108", unit_code="TIL-BO108",
                       places=10, active_from="2019-01-01"),
                  dict(facility_id="f2", facility_type="Midlertidigt botilbud §107", unit_code="TIL-BO107",
                       places=10, active_from="2019-01-01")]
    def force(key, facility_id, person, at, kind="Fastholdelse"):
        return dict(force_id=key, facility_id=facility_id, citizen_key=person, occurred_at=at, force_type=kind)
    registrations = [
        force("m1", "f1", "p1", "2025-07-01 00:05"),                      # first day
        force("m2", "f1", "p1", "2025-09-30 23:30"),                      # last day
        force("m3", "f2", "p1", "2025-08-01 12:00", "Personlig alarm"),   # p1 at a second facility
        force("m4", "f2", None, "2025-08-02 12:00", "Andet"),             # no person: count only
        force("m5", "f1", "p2", "2025-06-30 23:59"),                      # ytd only
        force("m6", "f9", "p3", "2025-08-05 12:00"),                      # facility not in dim_facility
    ]
    return compute_kpi("T3.07", make_model(dim_facility=facilities, fact_use_of_force=registrations), q3_2025)


def test_use_of_force(force_rows, pick):
    assert (pick(force_rows)["value"], pick(force_rows, "persons")["value"]) == (5, 2)   # m1-m4, m6; p1, p3
    bo108 = dict(dimension="facility_type", dimension_value="Længerevarende botilbud §108")
    assert (pick(force_rows, **bo108)["value"], pick(force_rows, "persons", **bo108)["value"]) == (2, 1)
    bo107 = dict(dimension="facility_type", dimension_value="Midlertidigt botilbud §107")
    assert (pick(force_rows, **bo107)["value"], pick(force_rows, "persons", **bo107)["value"]) == (2, 1)
    assert pick(force_rows, dimension="facility_type", dimension_value="Ukendt")["value"] == 1   # m6
    assert pick(force_rows, dimension="facility", dimension_value="f1")["value"] == 2
    assert pick(force_rows, "persons", dimension="force_type", dimension_value="Fastholdelse")["value"] == 2


def test_use_of_force_year_to_date(make_model, ytd_q3_2025, pick):
    model = make_model(fact_use_of_force=[
        dict(force_id="m5", facility_id="f1", citizen_key="p2", occurred_at="2025-06-30 23:59", force_type="Andet"),
        dict(force_id="m7", facility_id="f1", citizen_key="p2", occurred_at="2025-01-01 00:00", force_type="Andet"),
        dict(force_id="m8", facility_id="f1", citizen_key="p3", occurred_at="2024-12-31 23:59", force_type="Andet"),
    ])
    rows = compute_kpi("T3.07", model, ytd_q3_2025)
    assert (pick(rows)["value"], pick(rows, "persons")["value"]) == (2, 1)   # m5, m7 (1 Jan); not m8


def test_use_of_force_organisation_from_the_facility(force_rows, pick):
    assert (pick(force_rows, org_level="center", org_key="Center for Botilbud")["value"],
            pick(force_rows, "persons", org_level="center", org_key="Center for Botilbud")["value"]) == (4, 1)
    assert pick(force_rows, org_level="unit", org_key="Længerevarende botilbud")["value"] == 2
    assert pick(force_rows, org_level="area", org_key="Ukendt")["value"] == 1


# --- T3.08 Barnets plan til tiden ------------------------------------------------------------

def test_plan_window_is_the_period_three_months_earlier():
    def window(period):
        return tuple(day.date() for day in plan_window(period))
    assert window(q(2025, 3)) == (dt.date(2025, 4, 1), dt.date(2025, 6, 30))
    assert window(q(2025, 2)) == (dt.date(2025, 1, 1), dt.date(2025, 3, 31))
    assert window(q(2025, 1)) == (dt.date(2024, 10, 1), dt.date(2024, 12, 31))
    assert window(q(2025, 4)) == (dt.date(2025, 7, 1), dt.date(2025, 9, 30))
    assert window(ytd(2025, 3)) == (dt.date(2024, 10, 1), dt.date(2025, 6, 30))
    # Running quarter: decisions whose 3-month deadline has passed by E, and no later ones.
    assert window(q(2025, 4, extraction=dt.date(2025, 11, 30))) == (dt.date(2025, 7, 1), dt.date(2025, 8, 31))
    assert window(q(2025, 4, extraction=dt.date(2025, 11, 29))) == (dt.date(2025, 7, 1), dt.date(2025, 8, 29))


@pytest.fixture
def plan_model(make_model):
    def granted(key, decided, code="BL32", outcome="Bevilget", paragraph=None):
        return decision(key, decided, code=code, source="boern", outcome=outcome, paragraph=paragraph)

    def plan(key, decision_key, date):
        return dict(plan_id=key, case_key="case", decision_key=decision_key, plan_date=date)

    return make_model(fact_decision=[
        granted("d1", "2025-04-01"),                                          # window's first day
        granted("d2", "2025-06-30", code="BL46", outcome="Delvis bevilget"),  # window's last day
        granted("d3", "2025-05-31", code="BL46", paragraph="SEL § 52, stk. 3, nr. 7"),  # old SEL text
        granted("d4", "2025-05-31"),
        granted("d5", "2025-05-15"),                                          # no plan
        granted("d6", "2025-05-01", code="BL47"),                             # without consent: not included
        granted("d7", "2025-05-01", outcome="Afslag"),                        # refused: not included
        granted("d8", "2025-03-31"),                                          # Q2's window; ytd
        granted("d9", "2025-07-01"),                                          # Q4's window
        granted("d10", "2025-05-20"),                                         # a plan of another decision
        decision("d11", "2025-05-01", code="SEL85", outcome="Bevilget"),      # adult decision
    ], fact_plan=[
        plan("h1", "d1", "2025-07-01"),    # = decision + 3 months: in time
        plan("h2", "d2", "2025-09-30"),    # Jun 30 + 3 months = Sep 30: in time
        plan("h2b", "d2", "2025-10-15"),   # a second, late plan does not count twice
        plan("h3", "d3", "2025-08-31"),    # in time
        plan("h4", "d4", "2025-09-01"),    # deadline Aug 31: late
        plan("h8", "d8", "2025-03-01"),    # before the decision: in time
        plan("h10", "d99", "2025-06-01"),  # belongs to another decision
        plan("h0", None, "2025-06-01"),    # no decision
    ])


def test_child_plan_in_time(plan_model, q3_2025, pick):
    rows = compute_kpi("T3.08", plan_model, q3_2025)
    assert fraction(pick(rows, "share")) == (3, 6)      # d1, d2, d3 of d1-d5, d10
    assert fraction(pick(rows, "share", org_level="center", org_key=NORD)) == (3, 6)


def test_child_plan_in_time_year_to_date(plan_model, ytd_q3_2025, pick):
    assert fraction(pick(compute_kpi("T3.08", plan_model, ytd_q3_2025), "share")) == (4, 7)   # + d8


# --- T3.09 Rusmiddelbehandling inden for 14 dage ------------------------------------------

def test_treatment_within_14_days(make_model, q3_2025, ytd_q3_2025, pick):
    def treatment(key, start, decision_key, code="SEL101", paragraph="SEL §101"):
        return dict(service_key=key, source="voksen", citizen_key=f"p-{key}", decision_key=decision_key,
                    service_code=code, paragraph_text=paragraph, start_date=start, unit_code="CRM-01", area=VOKSNE)
    model = make_model(fact_decision=[
        decision("a1", "2025-06-22", "2025-06-20", code="SEL101"),
        decision("a2", "2025-07-02", "2025-07-01", code="SEL101"),
        decision("a3", "2025-07-20", None, code="SEL101"),
        decision("a4", "2025-08-10", "2025-08-10", code="SEL101"),
        decision("a5", "2025-09-30", "2025-09-30", code="SEL101"),
    ], fact_service=[
        treatment("s1", "2025-07-04", "a1"),                  # 14 days: in time (day 14 included)
        treatment("s2", "2025-07-16", "a2"),                  # 15 days: late
        treatment("s3", "2025-08-01", "a3"),                  # no application date: left out
        treatment("s4", "2025-08-01", None),                  # no decision: left out
        treatment("s5", "2025-08-05", "a4"),                  # started before the application: left out
        treatment("s6", "2025-07-02", "a2", code="SEL85", paragraph="SEL §85"),  # not treatment
        treatment("s7", "2025-06-30", "a1"),                  # ytd only: 10 days
        treatment("s8", "2025-08-01", "x9"),                  # decision not in the model: left out
        treatment("s9", "2025-09-30", "a5", paragraph="Rusmiddelbehandlingsloven § 4"),  # successor law: 0 days
    ])
    rows = compute_kpi("T3.09", model, q3_2025)
    assert fraction(pick(rows, "share")) == (2, 3)            # s1, s9 of s1, s2, s9
    assert fraction(pick(rows, "share", org_level="unit", org_key="Rusmiddelrådgivningen")) == (2, 3)
    assert fraction(pick(compute_kpi("T3.09", model, ytd_q3_2025), "share")) == (3, 4)


# --- empty periods -----------------------------------------------------------------------------


def test_every_appeals_outcome_of_the_contract_has_a_reported_label():
    assert set(APPEALS_OUTCOME_LABELS) == set(vocabulary.APPEALS_OUTCOMES)
    assert set(APPEALS_OUTCOME_LABELS.values()) == {"Stadfæstet", "Omgjort", "Hjemvist", "Afvist"}
