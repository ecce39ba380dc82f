"""T2.01 Afgørelser and T2.06 Anbragte børn og unge on hand-built data (2025-Q3)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.core.periods import quarter_periods
from etl.kpi import compute_kpi
from etl.model.org import current_structure

BOERN, VOKSNE = "Børn og Unge", "Voksne"


def decision(key, date, source="voksen", unit="CSU-ØST", service_code="SEL85", outcome="Bevilget"):
    return dict(decision_key=key, source=source, decision_date=date, unit_code=unit,
                service_code=service_code, outcome=outcome, area=BOERN if source == "boern" else VOKSNE)


DECISIONS = [
    decision("d1", "2025-07-01", "boern", "BFC-NORD", "BL46"),           # first day of Q3
    decision("d2", "2025-09-30", outcome="Afslag"),                       # last day of Q3
    decision("d3", "2025-06-30", "boern", "BFC-SYD", "BL32"),             # day before Q3: ytd only
    decision("d4", "2025-10-01"),                                         # day after: nowhere
    decision("d5", "2025-08-15", unit="UKENDT-1", service_code=None,      # unknown unit, unmapped paragraph
             outcome="Delvis bevilget"),
    decision("d6", "2024-12-31"),                                         # before the year: nowhere
    decision("d7", "2025-01-01", unit="CHR-01"),                          # first day of the year: ytd
]


@pytest.fixture
def decision_model(make_model):
    return make_model(fact_decision=DECISIONS)


def test_decisions_in_quarter_include_both_boundary_days(decision_model, q3_2025, pick):
    rows = compute_kpi("T2.01", decision_model, q3_2025)
    assert pick(rows)["value"] == 3  # d1, d2, d5
    assert pick(rows, org_level="area", org_key=BOERN)["value"] == 1
    assert pick(rows, org_level="area", org_key=VOKSNE)["value"] == 2
    assert pick(rows, dimension="outcome", dimension_value="Bevilget")["value"] == 1
    assert pick(rows, dimension="outcome", dimension_value="Afslag")["value"] == 1
    assert pick(rows, dimension="outcome", dimension_value="Delvis bevilget")["value"] == 1


def test_decisions_year_to_date(decision_model, ytd_q3_2025, pick):
    rows = compute_kpi("T2.01", decision_model, ytd_q3_2025)
    assert pick(rows)["value"] == 5  # d1, d2, d3, d5, d7
    assert pick(rows, dimension="area", dimension_value=BOERN)["value"] == 2  # d1, d3
    assert pick(rows, dimension="area", dimension_value=VOKSNE)["value"] == 3  # d2, d5, d7
    assert set(rows["period_type"]) == {"ytd"}
    assert rows["period_start"].iloc[0].date() == dt.date(2025, 1, 1)
    assert set(rows["period"]) == {"2025-Q3"}


def test_unknown_unit_and_unmapped_paragraph_stay_in_totals(decision_model, q3_2025, pick):
    rows = compute_kpi("T2.01", decision_model, q3_2025)
    assert pick(rows, dimension="service_code", dimension_value="Ukendt")["value"] == 1   # d5
    assert pick(rows, dimension="service_code", dimension_value="BL46")["value"] == 1
    assert pick(rows, org_level="center", org_key="Ukendt")["value"] == 1
    assert pick(rows, org_level="unit", org_key="Ukendt")["value"] == 1
    assert pick(rows, org_level="area", org_key=VOKSNE, dimension="service_code",
                dimension_value="Ukendt")["value"] == 1


def test_organisation_resolved_on_period_end(make_model, pick):
    # BFC-VEST belongs to center Syd until 2024-12-31 and to center Nord from 2025-01-01.
    model = make_model(fact_decision=[decision("d1", "2024-11-01", "boern", "BFC-VEST"),
                                      decision("d2", "2025-02-01", "boern", "BFC-VEST")])
    q4_2024 = quarter_periods(2024, 4, dt.date(2025, 10, 15))[0]
    q1_2025 = quarter_periods(2025, 1, dt.date(2025, 10, 15))[0]
    assert pick(compute_kpi("T2.01", model, q4_2024), org_level="center",
                org_key="Center for Børn og Familier Syd")["value"] == 1
    assert pick(compute_kpi("T2.01", model, q1_2025), org_level="center",
                org_key="Center for Børn og Familier Nord")["value"] == 1


def test_no_decisions_gives_total_zero(make_model, q3_2025, pick):
    rows = compute_kpi("T2.01", make_model(fact_decision=[decision("d6", "2024-12-31")]), q3_2025)
    assert pick(rows)["value"] == 0
    assert len(rows) == 1


def placement(citizen, kind, start, end=None, unit="BFC-NORD", target="Socialt udsat",
              category="Anbringelse", source="boern"):
    return dict(service_key=f"{citizen}:{kind}:{start}", source=source, citizen_key=citizen,
                category=category, service_type=kind, start_date=start, end_date=end, unit_code=unit,
                target_group=target, area=BOERN if source == "boern" else VOKSNE)


@pytest.fixture
def placed(make_model, q3_2025):
    services = [
        placement("k1", "Plejefamilie", "2024-03-01"),                      # active, open end
        placement("k1", "Døgninstitution", "2025-09-01"),                   # k1's second, overlapping
        placement("k2", "Opholdssted", "2023-01-01", "2025-09-30", "BFC-HAND", "Handicap"),  # ends on E
        placement("k3", "Plejefamilie", "2023-01-01", "2025-09-29"),        # ended the day before E
        placement("k4", "Aflastning", "2025-01-01", category="Forebyggende"),  # not a placement
        placement("k5", "Plejefamilie", None),                              # missing start: never
        placement("k6", "Plejefamilie", "2025-09-30", unit="BFC-XXX"),      # starts on E, unknown unit
        placement("a1", "Bostøtte", "2025-01-01", unit="CSU-ØST", category=None, source="voksen"),
    ]
    citizens = [dict(citizen_key="k1", birth_date="2015-03-01"),   # 10 on E
                dict(citizen_key="k2", birth_date="2008-09-30")]   # 17 on E (birthday)
    return compute_kpi("T2.06", make_model(fact_service=services, dim_citizen=citizens), q3_2025)


def test_placed_children_distinct_in_total_and_per_unit(placed, pick):
    assert pick(placed)["value"] == 3  # k1, k2, k6
    assert pick(placed, org_level="center", org_key="Center for Børn og Familier Nord")["value"] == 1  # k1
    assert pick(placed, org_level="unit", org_key="Familierådgivning Nord")["value"] == 1
    assert pick(placed, org_level="center", org_key="Center for Børn med Handicap")["value"] == 1  # k2
    assert pick(placed, org_level="center", org_key="Ukendt")["value"] == 1  # k6
    assert pick(placed, org_level="area", org_key=BOERN)["value"] == 3


def test_placed_children_by_type_target_group_and_age(placed, pick):
    assert pick(placed, dimension="placement_type", dimension_value="Plejefamilie")["value"] == 2  # k1, k6
    assert pick(placed, dimension="placement_type", dimension_value="Døgninstitution")["value"] == 1
    assert pick(placed, dimension="placement_type", dimension_value="Opholdssted")["value"] == 1
    assert pick(placed, dimension="target_group", dimension_value="Socialt udsat")["value"] == 2
    assert pick(placed, dimension="target_group", dimension_value="Handicap")["value"] == 1
    assert pick(placed, dimension="age_group", dimension_value="6-11")["value"] == 1
    assert pick(placed, dimension="age_group", dimension_value="12-17")["value"] == 1
    assert pick(placed, dimension="age_group", dimension_value="Ukendt")["value"] == 1  # k6
    assert set(placed["dimension"].dropna()) == {"placement_type", "target_group", "age_group"}


def test_no_placements_gives_total_zero(make_model, q3_2025, pick):
    assert pick(compute_kpi("T2.06", make_model(), q3_2025))["value"] == 0


# --- shared for T2.02-T2.13 ------------------------------------------------------------

HERBERG, KRISE, FORSORG, NATCAFE = "Herberg §110", "Krisecenter §109", "Forsorgshjem §110", "Natcafé"
BO107, BO108 = "Midlertidigt botilbud §107", "Længerevarende botilbud §108"
FACILITY_UNIT = {HERBERG: "TIL-HERB", FORSORG: "TIL-HERB", KRISE: "TIL-KRISE", NATCAFE: "TIL-NAT",
                 BO107: "TIL-BO107", BO108: "TIL-BO108"}
NORD, SYD = "Center for Børn og Familier Nord", "Center for Børn og Familier Syd"


def service(key, start, end=None, source="voksen", code="SEL85", unit="CSU-ØST", paragraph=None,
            category=None, kind=None, citizen=None, target=None):
    return dict(service_key=key, source=source, citizen_key=citizen or f"c-{key}", service_code=code,
                paragraph_text=paragraph, category=category, service_type=kind, start_date=start,
                end_date=end, unit_code=unit, target_group=target, area=BOERN if source == "boern" else VOKSNE)


def stay(key, facility_type, check_in, check_out=None, citizen="anon", facility=None):
    citizen = f"p-{key}" if citizen == "anon" else citizen
    return dict(stay_key=key, facility_id=facility or facility_type, facility_type=facility_type,
                citizen_key=citizen, has_cpr=citizen is not None, check_in=check_in, check_out=check_out,
                unit_code=FACILITY_UNIT[facility_type], area=VOKSNE)


def case(key, opened, closed=None, source="boern", unit="BFC-NORD", caseworker=None):
    return dict(case_key=key, source=source, citizen_key=f"c-{key}", opened_date=opened, closed_date=closed,
                unit_code=unit, caseworker_key=caseworker, area=BOERN if source == "boern" else VOKSNE)


def q(year, quarter, extraction=dt.date(2026, 4, 15)):
    return quarter_periods(year, quarter, extraction)[0]


def ytd(year, quarter, extraction=dt.date(2026, 4, 15)):
    return quarter_periods(year, quarter, extraction)[1]


def assert_mean(row, numerator, denominator):
    assert (row["numerator"], row["denominator"]) == (numerator, denominator)
    assert row["value"] == pytest.approx(numerator / denominator)


# --- T2.02 Aktive ydelser ----------------------------------------------------------------

@pytest.fixture
def active(make_model, q3_2025):
    services = [
        service("s1", "2025-01-01"),                                              # open end
        service("s2", "2024-01-01", "2025-09-30", code="SEL107", unit="CHR-01"),  # ends on E
        service("s3", "2024-01-01", "2025-09-29"),                                # ended the day before
        service("s4", "2025-10-01"),                                              # starts the day after
        service("s5", None),                                                      # missing start: never
        service("s6", "2023-05-01", source="boern", code="BL46", unit="BFC-NORD",  # old SEL text -> BL46
                paragraph="SEL § 52, stk. 3, nr. 7", category="Anbringelse"),
        service("s7", "2025-09-30", source="boern", code="BL46", unit="BFC-NORD",  # new text, starts on E
                paragraph="BL §46", category="Anbringelse"),
        service("s8", "2025-01-01", code=None, unit="XXX-99", paragraph="SEL §999"),  # unmapped, unknown unit
        service("s9", "2025-09-01", "2025-08-01"),                                # ends before it starts
    ]
    return compute_kpi("T2.02", make_model(fact_service=services), q3_2025)


def test_active_services_on_e(active, pick):
    assert pick(active)["value"] == 5  # s1, s2, s6, s7, s8
    assert pick(active, dimension="service_code", dimension_value="SEL85")["value"] == 1
    assert pick(active, dimension="service_code", dimension_value="SEL107")["value"] == 1
    assert pick(active, dimension="service_code", dimension_value="BL46")["value"] == 2  # both paragraph texts
    assert pick(active, dimension="service_code", dimension_value="Ukendt")["value"] == 1
    assert pick(active, dimension="area", dimension_value=VOKSNE)["value"] == 3
    assert pick(active, org_level="area", org_key=BOERN)["value"] == 2


def test_active_services_unknown_unit_keeps_area(active, pick):
    assert pick(active, org_level="center", org_key="Ukendt")["value"] == 1                 # s8
    assert pick(active, org_level="area", org_key=VOKSNE, dimension="service_code",
                dimension_value="Ukendt")["value"] == 1
    assert pick(active, org_level="unit", org_key="Familierådgivning Nord")["value"] == 2   # s6, s7


def test_stock_kpis_refuse_year_to_date(make_model, ytd_q3_2025):
    for kpi_id in ("T2.02", "T2.09", "T2.10", "T2.13"):
        with pytest.raises(ValueError, match="stock"):
            compute_kpi(kpi_id, make_model(), ytd_q3_2025)


# --- T2.03 Opholdslængde §107 -------------------------------------------------------------

@pytest.fixture
def stay_model(make_model):
    return make_model(fact_stay=[
        stay("st1", BO107, "2025-01-10 10:00", "2025-07-01 09:00"),  # first day: 172 days
        stay("st2", BO107, "2025-09-20 23:00", "2025-09-30 08:00"),  # last day: 10 days
        stay("st3", BO107, "2025-06-01 12:00", "2025-06-30 12:00"),  # day before: ytd only, 29 days
        stay("st4", BO107, "2025-09-01 12:00", "2025-10-01 12:00"),  # day after: nowhere
        stay("st5", BO107, "2025-08-10 12:00", "2025-08-05 12:00"),  # out before in: counted, no duration
        stay("st6", BO107, "2025-08-01 12:00"),                      # open: not ended
        stay("st7", HERBERG, "2025-07-01 12:00", "2025-08-01 12:00"),  # not §107
        stay("st8", BO107, "2025-08-01 20:00", "2025-08-04 09:00", citizen=None),  # anonymous: 3 days
        stay("st9", BO107, "2025-08-15 08:00", "2025-08-15 17:00"),  # same day: 0 days
    ], fact_service=[service("sv", "2025-01-01", "2025-08-01", code="SEL107")])  # a service, not a stay


def test_stay_length_quarter_with_lower_median_of_even_count(stay_model, q3_2025, pick):
    rows = compute_kpi("T2.03", stay_model, q3_2025)
    assert pick(rows)["value"] == 5                        # st1, st2, st5, st8, st9
    assert_mean(pick(rows, "mean_days"), 185, 4)           # 172 + 10 + 3 + 0; st5 left out
    median = pick(rows, "median_days")                     # [0, 3, 10, 172]: the lower middle value
    assert (median["value"], median["denominator"], median["unit"]) == (3, 4, "days")
    assert pick(rows, org_level="center", org_key="Center for Botilbud")["value"] == 5
    assert set(rows["measure"]) == {"count", "mean_days", "median_days"}


def test_stay_length_year_to_date(stay_model, ytd_q3_2025, pick):
    rows = compute_kpi("T2.03", stay_model, ytd_q3_2025)
    assert pick(rows)["value"] == 6                        # + st3
    assert_mean(pick(rows, "mean_days"), 214, 5)
    assert pick(rows, "median_days")["value"] == 10        # [0, 3, 10, 29, 172]


# --- T2.04 Belægning ----------------------------------------------------------------------

def facility(key, facility_type, places, active_from, active_to=None):
    return dict(facility_id=key, facility_type=facility_type, unit_code=FACILITY_UNIT[facility_type],
                places=places, active_from=active_from, active_to=active_to)


@pytest.fixture
def occupancy(make_model, q3_2025):
    facilities = [
        facility("f1", HERBERG, 10, "2020-01-01"),                # 92 days x 10 = 920
        facility("f2", NATCAFE, 5, "2025-09-01"),                 # Sep 1..30: 30 days x 5 = 150
        facility("f3", HERBERG, 4, "2019-01-01", "2025-07-01"),   # only Jul 1 (both ends included): 4
        facility("f4", KRISE, 2, "2025-10-01"),                   # opens after E: no capacity
    ]
    stays = [
        stay("a", HERBERG, "2025-06-30 20:00", "2025-07-03 09:00", facility="f1"),  # nights Jul 1, 2 (Jun 30 clipped)
        stay("b", HERBERG, "2025-09-29 21:00", None, facility="f1"),                # open: Sep 29, 30
        stay("c", HERBERG, "2025-08-01 12:00", "2025-08-01 18:00", facility="f1"),  # in and out same date: 0
        stay("d", HERBERG, "2025-08-10 12:00", "2025-08-05 12:00", facility="f1"),  # out before in: left out
        stay("e", NATCAFE, "2025-09-10 23:00", "2025-09-11 06:00", citizen=None, facility="f2"),  # 1 night
        stay("g", HERBERG, "2025-09-01 18:00", "2025-09-05 10:00", citizen="x", facility="f1"),  # 4 nights
        stay("h", HERBERG, "2025-09-03 18:00", "2025-09-06 10:00", citizen="x", facility="f1"),  # overlaps g: 3
        stay("i", HERBERG, "2025-10-01 18:00", None, facility="f1"),                # starts after E: 0
        stay("j", HERBERG, "2025-06-01 18:00", "2025-06-30 10:00", facility="f1"),  # ended before S: 0
        stay("k", HERBERG, "2025-06-25 18:00", "2025-07-02 10:00", facility="f3"),  # Jul 1 only
        stay("u", HERBERG, "2025-07-01 18:00", "2025-07-20 10:00", facility="f99"),  # unknown facility: out
    ]
    return compute_kpi("T2.04", make_model(dim_facility=facilities, fact_stay=stays), q3_2025)


def test_occupancy_per_facility_type(occupancy, pick):
    herberg = pick(occupancy, "share", dimension="facility_type", dimension_value=HERBERG)
    assert_mean(herberg, 12, 924)      # a 2 + b 2 + g 4 + h 3 + k 1; 920 + 4
    natcafe = pick(occupancy, "share", dimension="facility_type", dimension_value=NATCAFE)
    assert_mean(natcafe, 1, 150)       # the anonymous natcafé guest counts here
    assert not (occupancy["dimension_value"] == KRISE).any()
    assert_mean(pick(occupancy, "share"), 13, 1074)
    assert pick(occupancy, "share")["unit"] == "share"


def test_occupancy_per_unit_and_center(occupancy, pick):
    assert_mean(pick(occupancy, "share", org_level="unit", org_key="Herberger og forsorgshjem"), 12, 924)
    assert_mean(pick(occupancy, "share", org_level="unit", org_key="Natcaféer"), 1, 150)
    assert_mean(pick(occupancy, "share", org_level="center", org_key="Center for Rusmiddel og Hjemløshed"),
                13, 1074)
    assert_mean(pick(occupancy, "share", org_level="area", org_key=VOKSNE), 13, 1074)


def test_occupancy_leap_day_and_31_december(make_model, pick):
    facilities = [facility("f1", HERBERG, 10, "2020-01-01", "2024-12-31")]
    stays = [stay("l", HERBERG, "2024-02-28 20:00", "2024-03-01 08:00", facility="f1"),  # Feb 28 and 29
             stay("m", HERBERG, "2024-12-31 22:00", None, facility="f1")]                # night of 31 Dec
    model = make_model(dim_facility=facilities, fact_stay=stays)
    assert_mean(pick(compute_kpi("T2.04", model, q(2024, 1)), "share"), 2, 910)   # 91 days in Q1 2024
    assert_mean(pick(compute_kpi("T2.04", model, q(2024, 4)), "share"), 1, 920)   # active_to 31 Dec included
    assert_mean(pick(compute_kpi("T2.04", model, ytd(2024, 4)), "share"), 3, 3660)  # 366 days


# --- T2.05 Forebyggende indsatser --------------------------------------------------------

def measure(key, child, start, category="Forebyggende", kind="Familiebehandling", target="Socialt udsat",
            end=None, unit="BFC-NORD"):
    return service(key, start, end, source="boern", code="BL32", unit=unit, category=category, kind=kind,
                   citizen=child, target=target)


@pytest.fixture
def preventive_model(make_model):
    return make_model(fact_service=[
        measure("m1", "k1", "2025-07-01"),                                    # first day; k1 turns 6 that day
        measure("m2", "k2", "2025-09-30", kind="Aflastning", target="Handicap", unit="BFC-HAND"),  # last day
        measure("m3", "k1", "2025-06-30", kind="Kontaktperson"),              # day before: ytd only (k1 5)
        measure("m4", "k1", "2025-10-01"),                                    # day after
        measure("m5", "k1", None),                                            # no start date
        measure("m6", "k1", "2025-08-01", category="Anbringelse", kind="Plejefamilie"),  # a placement
        measure("m7", "k3", "2025-08-01"),                                    # no birth date
    ], dim_citizen=[dict(citizen_key="k1", birth_date="2019-07-01"),
                    dict(citizen_key="k2", birth_date="2012-02-29")])


def test_preventive_measures_started(preventive_model, q3_2025, pick):
    rows = compute_kpi("T2.05", preventive_model, q3_2025)
    assert pick(rows)["value"] == 3  # m1, m2, m7
    assert pick(rows, dimension="measure_type", dimension_value="Familiebehandling")["value"] == 2
    assert pick(rows, dimension="measure_type", dimension_value="Aflastning")["value"] == 1
    assert pick(rows, dimension="target_group", dimension_value="Socialt udsat")["value"] == 2
    assert pick(rows, dimension="target_group", dimension_value="Handicap")["value"] == 1
    assert pick(rows, dimension="age_group", dimension_value="6-11")["value"] == 1    # m1: 6 on the start date
    assert pick(rows, dimension="age_group", dimension_value="12-17")["value"] == 1   # m2: 13
    assert pick(rows, dimension="age_group", dimension_value="Ukendt")["value"] == 1  # m7
    assert pick(rows, org_level="center", org_key="Center for Børn med Handicap")["value"] == 1


def test_preventive_measures_year_to_date_age_on_each_start_date(preventive_model, ytd_q3_2025, pick):
    rows = compute_kpi("T2.05", preventive_model, ytd_q3_2025)
    assert pick(rows)["value"] == 4
    assert pick(rows, dimension="age_group", dimension_value="0-5")["value"] == 1     # m3: k1 is 5 on Jun 30
    assert pick(rows, dimension="age_group", dimension_value="6-11")["value"] == 1    # m1: k1 is 6 on Jul 1


def test_preventive_age_of_a_leap_day_child(make_model, pick):
    # Born 29 Feb 2016: still 5 on 28 Feb 2022, 6 on 1 Mar 2022.
    model = make_model(fact_service=[measure("a", "k", "2022-02-28"), measure("b", "k", "2022-03-01")],
                       dim_citizen=[dict(citizen_key="k", birth_date="2016-02-29")])
    rows = compute_kpi("T2.05", model, q(2022, 1))
    assert pick(rows, dimension="age_group", dimension_value="0-5")["value"] == 1
    assert pick(rows, dimension="age_group", dimension_value="6-11")["value"] == 1


# --- T2.07 Nyanbringelser -----------------------------------------------------------------

@pytest.fixture
def new_placement_model(make_model):
    p = dict(category="Anbringelse", kind="Plejefamilie")
    return make_model(fact_service=[
        measure("p1", "c1", "2024-01-01", end="2025-07-14", **p),
        measure("p2", "c1", "2025-07-15", kind="Døgninstitution", category="Anbringelse"),  # move: p1 active Jul 14
        measure("p3", "c2", "2025-07-01", **p),                                # first day, nothing before: new
        measure("p4", "c3", "2025-01-01", end="2025-08-01", kind="Opholdssted", category="Anbringelse"),
        measure("p5", "c3", "2025-08-03", kind="Opholdssted", category="Anbringelse"),  # gap Aug 2: new
        measure("p7", "c4", "2025-09-01", end="2025-09-29", **p),              # new
        measure("p6", "c4", "2025-09-30", **p),                                # last day, p7 active Sep 29: move
        measure("p9", "c5", None, kind="Døgninstitution", category="Anbringelse"),  # no start: never active
        measure("p8", "c5", "2025-08-01", kind="Døgninstitution", category="Anbringelse"),  # new
        measure("f1", "c6", "2025-06-01"),                                     # preventive: not a placement
        measure("p10", "c6", "2025-08-01", **p),                               # new
        measure("p11", "c7", "2025-07-10", **p),                               # two placements, same day:
        measure("p12", "c7", "2025-07-10", kind="Eget værelse", category="Anbringelse"),  # both new
        measure("p13", "c8", "2025-06-30", **p),                               # ytd only
    ], dim_citizen=[dict(citizen_key="c2", birth_date="2007-07-01")])        # 18 on p3's start date


def test_new_placements(new_placement_model, q3_2025, pick):
    rows = compute_kpi("T2.07", new_placement_model, q3_2025)
    assert pick(rows)["value"] == 7               # p3, p5, p7, p8, p10, p11, p12
    assert pick(rows, "children")["value"] == 6   # c2, c3, c4, c5, c6, c7
    assert pick(rows, dimension="placement_type", dimension_value="Plejefamilie")["value"] == 4  # p3 p7 p10 p11
    assert pick(rows, "children", dimension="placement_type", dimension_value="Plejefamilie")["value"] == 4
    assert pick(rows, dimension="placement_type", dimension_value="Døgninstitution")["value"] == 1  # p8; p2 moved
    assert pick(rows, dimension="age_group", dimension_value="18-22")["value"] == 1   # c2
    assert pick(rows, dimension="age_group", dimension_value="Ukendt")["value"] == 6


def test_new_placements_year_to_date(new_placement_model, ytd_q3_2025, pick):
    rows = compute_kpi("T2.07", new_placement_model, ytd_q3_2025)
    assert pick(rows)["value"] == 9               # + p4 (Jan 1, nothing before), p13
    assert pick(rows, "children")["value"] == 7   # c3 once for p4 and p5


# --- T2.08 Anbringelsesvarighed -----------------------------------------------------------

@pytest.fixture
def ended_placement_model(make_model):
    p = dict(category="Anbringelse", kind="Plejefamilie")
    return make_model(fact_service=[
        measure("q1", "c1", "2024-07-01", end="2025-07-01", **p),          # first day: 365
        measure("q2", "c2", "2025-09-01", end="2025-09-30", kind="Døgninstitution", category="Anbringelse"),  # 29
        measure("q3", "c3", None, end="2025-08-01", **p),                  # no start: count only
        measure("q4", "c4", "2025-08-10", end="2025-08-05", **p),          # end before start: count only
        measure("q5", "c5", "2025-01-01", end="2025-06-30", **p),          # ytd only: 180
        measure("q6", "c6", "2025-01-01", end="2025-10-01", **p),          # day after
        measure("q7", "c7", "2025-01-01", **p),                            # open
        measure("q8", "c8", "2023-09-30", end="2025-09-30", target="Handicap", **p),  # 731 (leap day inside)
        measure("f1", "c9", "2025-01-01", end="2025-08-01"),               # preventive
    ])


def test_placement_duration(ended_placement_model, q3_2025, pick):
    rows = compute_kpi("T2.08", ended_placement_model, q3_2025)
    assert pick(rows)["value"] == 5                            # q1, q2, q3, q4, q8
    assert_mean(pick(rows, "mean_days"), 1125, 3)             # 365 + 29 + 731
    assert pick(rows, "median_days")["value"] == 365
    assert (pick(rows, "min_days")["value"], pick(rows, "max_days")["value"]) == (29, 731)
    assert pick(rows, "min_days")["denominator"] == 3
    plejefamilie = dict(dimension="placement_type", dimension_value="Plejefamilie")
    assert pick(rows, **plejefamilie)["value"] == 4            # q1, q3, q4, q8
    assert pick(rows, "median_days", **plejefamilie)["value"] == 365  # [365, 731]: lower
    assert pick(rows, "max_days", dimension="target_group", dimension_value="Handicap")["value"] == 731


def test_placement_duration_year_to_date(ended_placement_model, ytd_q3_2025, pick):
    rows = compute_kpi("T2.08", ended_placement_model, ytd_q3_2025)
    assert pick(rows)["value"] == 6
    assert pick(rows, "median_days")["value"] == 180           # [29, 180, 365, 731]
    assert_mean(pick(rows, "mean_days"), 1305, 4)


def test_duration_group_without_usable_dates_has_no_value(make_model, q3_2025, pick):
    p = dict(category="Anbringelse", kind="Plejefamilie")
    model = make_model(fact_service=[measure("u1", "c1", "2025-01-01", end="2025-08-01", **p),          # 212
                                     measure("u2", "c2", None, end="2025-08-01", target="Handicap", **p)])
    rows = compute_kpi("T2.08", model, q3_2025)
    handicap = dict(dimension="target_group", dimension_value="Handicap")
    assert pick(rows, **handicap)["value"] == 1                     # counted ...
    for measure_name in ("mean_days", "median_days", "min_days", "max_days"):
        row = pick(rows, measure_name, **handicap)                  # ... but no duration
        assert pd.isna(row["value"]) and row["denominator"] == 0
    assert pick(rows, "median_days")["value"] == 212


# --- T2.09 Åbne sager and T2.10 Sager pr. sagsbehandler ----------------------------------

def test_open_cases_on_31_december(make_model, pick):
    model = make_model(fact_case=[
        case("c1", "2024-01-01"),                                          # open
        case("c2", "2020-01-01", "2024-12-31", source="voksen", unit="CSU-ØST"),  # closed on E
        case("c3", "2020-01-01", "2024-12-30"),                            # closed the day before
        case("c4", "2025-01-01"),                                          # opened the day after
        case("c5", "2024-12-31", unit="BFC-XXX"),                          # opened on E, unknown unit
        case("c6", "2019-06-01", source="voksen", unit=None),              # no unit code
    ])
    rows = compute_kpi("T2.09", model, q(2024, 4))
    assert pick(rows)["value"] == 4
    assert pick(rows, dimension="area", dimension_value=BOERN)["value"] == 2     # c1, c5
    assert pick(rows, org_level="area", org_key=VOKSNE)["value"] == 2            # c2, c6
    assert pick(rows, org_level="center", org_key="Ukendt")["value"] == 2        # c5, c6
    assert pick(rows, org_level="area", org_key=BOERN)["value"] == 2             # c5 keeps its area


@pytest.fixture
def caseload(make_model, q3_2025):
    return compute_kpi("T2.10", make_model(fact_case=[
        case("a1", "2025-01-01", caseworker="boern:7"),
        case("a2", "2025-02-01", caseworker="boern:7"),
        case("a3", "2025-03-01", unit="BFC-SYD", caseworker="boern:7"),
        case("a4", "2024-01-01", "2025-09-01", caseworker="boern:7"),            # closed: not open
        case("b1", "2025-09-30", caseworker="boern:8"),                          # opened on E
        case("c1", "2025-01-01", source="voksen", unit="CSU-ØST", caseworker="voksen:7"),  # same id, other system
        case("c2", "2025-01-01", "2025-09-30", source="voksen", unit="CSU-ØST", caseworker="voksen:7"),
        case("n1", "2025-01-01"),                                                # no caseworker
    ]), q3_2025)


def test_cases_per_caseworker_totals(caseload, pick):
    assert pick(caseload, "cases")["value"] == 6
    assert pick(caseload, "caseworkers")["value"] == 3      # boern:7, boern:8, voksen:7
    assert_mean(pick(caseload, "cases_per_caseworker"), 6, 3)
    assert_mean(pick(caseload, "cases_per_caseworker", org_level="unit", org_key="Familierådgivning Nord"), 3, 2)
    assert_mean(pick(caseload, "cases_per_caseworker", org_level="center", org_key=SYD), 1, 1)
    assert_mean(pick(caseload, "cases_per_caseworker", org_level="area", org_key=BOERN), 4, 2)


def test_cases_per_caseworker_distribution(caseload, pick):
    per_caseworker = caseload[caseload["org_level"] == "caseworker"]
    assert set(per_caseworker["org_key"]) == {"boern:7", "boern:8", "voksen:7"}
    assert pick(caseload, "cases", org_level="caseworker", org_key="boern:7")["value"] == 3
    assert_mean(pick(caseload, "cases_per_caseworker", org_level="caseworker", org_key="voksen:7"), 2, 1)
    assert pick(caseload, "caseworkers", org_level="caseworker", org_key="boern:8")["value"] == 1


def test_cases_per_caseworker_empty(make_model, q3_2025, pick):
    rows = compute_kpi("T2.10", make_model(fact_case=[case("n1", "2025-01-01")]), q3_2025)
    ratio = pick(rows, "cases_per_caseworker")
    assert (ratio["numerator"], ratio["denominator"]) == (0, 0) and pd.isna(ratio["value"])
    assert pick(rows, "cases")["value"] == 0
    assert not (rows["org_level"] == "caseworker").any()


# --- T2.11 Nye og lukkede sager -----------------------------------------------------------

@pytest.fixture
def case_flow_model(make_model):
    return make_model(fact_case=[
        case("c1", "2025-07-01"),                                          # created on the first day
        case("c2", "2024-01-01", "2025-09-30", source="voksen", unit="CSU-ØST"),  # closed on the last day
        case("c3", "2025-08-01", "2025-08-20", source="voksen", unit="CSU-ØST"),  # both
        case("c4", "2025-06-30", "2025-10-01"),                            # ytd created; closed after
        case("c5", "2024-06-01", "2025-06-30"),                            # ytd closed
    ])


def test_cases_created_and_closed(case_flow_model, q3_2025, ytd_q3_2025, pick):
    rows = compute_kpi("T2.11", case_flow_model, q3_2025)
    assert (pick(rows, "created")["value"], pick(rows, "closed")["value"]) == (2, 2)
    assert pick(rows, "created", dimension="area", dimension_value=BOERN)["value"] == 1
    assert pick(rows, "closed", org_level="area", org_key=VOKSNE)["value"] == 2
    assert pick(rows, "closed", org_level="area", org_key=BOERN)["value"] == 0   # c1's group, nothing closed
    rows = compute_kpi("T2.11", case_flow_model, ytd_q3_2025)
    assert (pick(rows, "created")["value"], pick(rows, "closed")["value"]) == (3, 3)


# --- T2.12 Underretninger -----------------------------------------------------------------

def note(key, child, received, source="Skole", acute=False, unit="BFC-NORD", assessed=None):
    return dict(notification_id=key, citizen_key=child, received_at=received, assessed_at=assessed,
                notification_source=source, acute=acute, unit_code=unit, area=BOERN)


@pytest.fixture
def notification_model(make_model):
    return make_model(fact_notification=[
        note("n1", "k1", "2025-07-01 00:00", acute=True),                   # first day; k1 11
        note("n2", "k1", "2025-09-30 23:59", source="Politi", unit="BFC-SYD"),  # last day; k1 12
        note("n3", None, "2025-08-01 10:00", source="Anonym", unit=None),   # no child
        note("n4", "k2", "2025-06-30 23:59"),                               # ytd only
        note("n5", "k2", "2025-10-01 00:00"),                               # day after
        note("n6", "k3", "2025-08-10 12:00", unit="BFC-OEST", assessed="2025-08-10 11:00"),  # assessed first
    ], dim_citizen=[dict(citizen_key="k1", birth_date="2013-08-15"),
                    dict(citizen_key="k3", birth_date="2020-01-01")])


def test_notifications_and_children(notification_model, q3_2025, pick):
    rows = compute_kpi("T2.12", notification_model, q3_2025)
    assert pick(rows)["value"] == 4               # n1, n2, n3, n6
    assert pick(rows, "children")["value"] == 2   # k1 (in two units) once, k3
    assert pick(rows, "children", org_level="center", org_key=NORD)["value"] == 2
    assert pick(rows, "children", org_level="center", org_key=SYD)["value"] == 1
    assert pick(rows, org_level="center", org_key="Ukendt")["value"] == 1
    assert pick(rows, dimension="notification_source", dimension_value="Skole")["value"] == 2
    anonymous = pick(rows, "children", dimension="notification_source", dimension_value="Anonym")
    assert anonymous["value"] == 0
    assert pick(rows, dimension="acute", dimension_value="true")["value"] == 1
    assert pick(rows, dimension="acute", dimension_value="false")["value"] == 3


def test_notifications_age_on_received_date(notification_model, q3_2025, pick):
    rows = compute_kpi("T2.12", notification_model, q3_2025)
    assert pick(rows, dimension="age_group", dimension_value="6-11")["value"] == 1    # n1: k1 is 11
    assert pick(rows, dimension="age_group", dimension_value="12-17")["value"] == 1   # n2: k1 is 12
    assert pick(rows, dimension="age_group", dimension_value="0-5")["value"] == 1     # n6
    assert pick(rows, dimension="age_group", dimension_value="Ukendt")["value"] == 1  # n3


def test_notifications_year_to_date(notification_model, ytd_q3_2025, pick):
    rows = compute_kpi("T2.12", notification_model, ytd_q3_2025)
    assert (pick(rows)["value"], pick(rows, "children")["value"]) == (5, 3)


# --- T2.13 Borgere på herberg, forsorgshjem og krisecenter ---------------------------------

def test_persons_in_shelters(make_model, q3_2025, pick):
    model = make_model(fact_stay=[
        stay("s1", HERBERG, "2025-09-01 10:00", citizen="p1"),                       # open
        stay("s2", KRISE, "2025-09-20 10:00", "2025-10-05 10:00", citizen="p1"),     # p1 at two types
        stay("s3", KRISE, "2025-09-29 22:00", citizen=None),                         # anonymous
        stay("s4", KRISE, "2025-09-10 22:00", citizen=None),                         # another anonymous stay
        stay("s5", FORSORG, "2025-08-01 10:00", "2025-09-30 08:00", citizen="p2"),   # checks out on E
        stay("s6", HERBERG, "2025-08-01 10:00", "2025-09-29 08:00", citizen="p3"),   # the day before
        stay("s7", NATCAFE, "2025-09-29 23:00", citizen="p4"),                       # natcafé
        stay("s8", BO107, "2025-01-01 10:00", citizen="p5"),                         # §107
        stay("s9", HERBERG, "2025-10-01 10:00", citizen="p6"),                       # after E
    ])
    rows = compute_kpi("T2.13", model, q3_2025)
    assert pick(rows)["value"] == 4   # p1, s3, s4, p2
    assert pick(rows, dimension="facility_type", dimension_value=KRISE)["value"] == 3
    assert pick(rows, dimension="facility_type", dimension_value=HERBERG)["value"] == 1
    assert pick(rows, dimension="facility_type", dimension_value=FORSORG)["value"] == 1
    assert pick(rows, org_level="unit", org_key="Krisecentre")["value"] == 3
    assert pick(rows, org_level="center", org_key="Center for Rusmiddel og Hjemløshed")["value"] == 4


def test_a_reorganisation_keeps_history_unless_restated(make_model, q3_2025):
    """BFC-VEST moved from Syd to Nord on 2025-01-01: a 2024 decision stays under Syd,
    unless the organisation is restated on the current structure."""

    q3_2024 = quarter_periods(2024, 3, dt.date(2025, 11, 15))[0]
    decision = {"decision_key": "boern:1", "source": "boern", "decision_id": "1", "case_key": "boern:9",
                "citizen_key": "c1", "paragraph_text": "BL § 32", "service_code": "BL32", "application_date": None,
                "decision_date": "2024-08-01", "deadline_date": "2024-09-01", "outcome": "Bevilget",
                "unit_code": "BFC-VEST", "target_group": "Handicap", "area": "Børn og Unge"}
    model = make_model(fact_decision=[decision])
    centers = compute_kpi("T2.01", model, q3_2024)
    centers = set(centers.loc[centers["org_level"] == "center", "org_key"])
    assert centers == {"Center for Børn og Familier Syd"}
    model.replace_table("dim_org", current_structure(model.dim_org))
    restated = compute_kpi("T2.01", model, q3_2024)
    assert set(restated.loc[restated["org_level"] == "center", "org_key"]) == {"Center for Børn og Familier Nord"}
