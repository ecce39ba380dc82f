"""T2.01 Afgørelser and T2.06 Anbragte børn og unge on hand-built data (2025-Q3)."""

from __future__ import annotations

import datetime as dt

import pytest

from etl.kpi import compute_kpi
from etl.periods import quarter_periods

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
