"""T1.01 Borgere med en aktiv indsats on hand-built data (2025-Q3, E = 2025-09-30)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.kpi import compute_kpi, compute_kpis
from etl.periods import quarter_periods

VOKSNE, BOERN = "Voksne", "Børn og Unge"


def voksen(citizen, start, end=None, unit="CSU-ØST", target="Psykiatri"):
    return dict(service_key=f"voksen:{citizen}:{start}", source="voksen", citizen_key=citizen,
                start_date=start, end_date=end, unit_code=unit, area=VOKSNE, target_group=target)


def stay(citizen, facility_type, check_in, check_out=None, unit="TIL-HERB"):
    return dict(stay_key=f"stay:{citizen}:{facility_type}", facility_type=facility_type,
                citizen_key=citizen, has_cpr=citizen is not None, check_in=check_in,
                check_out=check_out, unit_code=unit, area=VOKSNE)


@pytest.fixture
def rows(make_model, q3_2025):
    services = [
        voksen("c1", "2025-01-01"),                                   # active, open end
        dict(voksen("c1", "2025-09-30", "2025-12-31", unit="BFC-NORD", target="Socialt udsat"),
             source="boern", area=BOERN),                              # starts on E: active
        voksen("c2", "2024-01-01", "2025-09-30", unit="CHR-01", target="Handicap"),  # ends on E
        voksen("c3", "2024-01-01", "2025-09-29"),                     # ended the day before E
        voksen("c4", "2025-10-01"),                                   # starts the day after E
        voksen("c5", None),                                           # missing start: never active
        voksen("c9", "2025-02-01", unit="XXX-99", target=None),       # unknown unit code
    ]
    stays = [
        stay("c6", "Herberg §110", "2025-09-01 10:00", "2025-09-30 08:00"),  # checks out on E
        stay(None, "Krisecenter §109", "2025-09-01 22:00", unit="TIL-KRISE"),  # anonymous
        stay("c7", "Natcafé", "2025-09-29 23:00", unit="TIL-NAT"),           # not a §107-§110 stay
        stay("c8", "Almen bolig ABL §105", "2020-01-01", unit="TIL-ABL"),    # not a §107-§110 stay
    ]
    citizens = [
        dict(citizen_key="c1", birth_date="2008-02-29", gender="M", bydel="Nørrebro"),  # 17 on E
        dict(citizen_key="c2", birth_date="1960-09-30", gender="K"),        # 65 on E: birthday
        dict(citizen_key="c6", birth_date="1995-10-01", gender="M", bydel="Valby"),  # 29 (30 tomorrow)
    ]
    model = make_model(fact_service=services, fact_stay=stays, dim_citizen=citizens)
    return compute_kpi("T1.01", model, q3_2025)


def test_total_counts_each_active_citizen_once(rows, pick):
    # c1 (two systems), c2 (ends on E), c6 (stay), c9 (unknown unit); not c3, c4, c5,
    # the anonymous stay, the natcafé guest or the ABL §105 tenant.
    assert pick(rows)["value"] == 4


def test_person_in_two_systems_counts_once_per_area(rows, pick):
    # Voksne: c1, c2, c6, c9; Børn og Unge: c1 only.
    assert pick(rows, org_level="area", org_key=VOKSNE)["value"] == 4
    assert pick(rows, org_level="area", org_key=BOERN)["value"] == 1
    assert pick(rows, dimension="area", dimension_value=VOKSNE)["value"] == 4
    assert pick(rows, dimension="area", dimension_value=BOERN)["value"] == 1


def test_centers_and_units(rows, pick):
    assert pick(rows, org_level="center", org_key="Center for Socialpsykiatri og Udsathed")["value"] == 1
    assert pick(rows, org_level="center", org_key="Center for Børn og Familier Nord")["value"] == 1
    assert pick(rows, org_level="center", org_key="Center for Handicap og Rehabilitering")["value"] == 1
    assert pick(rows, org_level="center", org_key="Center for Rusmiddel og Hjemløshed")["value"] == 1
    assert pick(rows, org_level="unit", org_key="Herberger og forsorgshjem")["value"] == 1


def test_unknown_unit_keeps_area_but_center_and_unit_unknown(rows, pick):
    # c9's unit code XXX-99 is not in the reference: Ukendt center/unit, area Voksne kept.
    assert pick(rows, org_level="center", org_key="Ukendt")["value"] == 1
    assert pick(rows, org_level="unit", org_key="Ukendt")["value"] == 1
    assert not (rows["org_level"].eq("area") & rows["org_key"].eq("Ukendt")).any()


def test_target_groups_of_all_active_cases_and_unknown_for_stay_only(rows, pick):
    # c1 counts in both of its cases' groups; c6 is known only from a stay; c9's is NULL.
    assert pick(rows, dimension="target_group", dimension_value="Psykiatri")["value"] == 1
    assert pick(rows, dimension="target_group", dimension_value="Socialt udsat")["value"] == 1
    assert pick(rows, dimension="target_group", dimension_value="Handicap")["value"] == 1
    assert pick(rows, dimension="target_group", dimension_value="Ukendt")["value"] == 2
    # The stay's unit sees the citizen's own target group: c6 has none -> Ukendt.
    assert pick(rows, org_level="unit", org_key="Herberger og forsorgshjem",
                dimension="target_group", dimension_value="Ukendt")["value"] == 1


def test_age_on_status_date_including_leap_day_birth(rows, pick):
    # c1 born 2008-02-29 is 17, c2 turns 65 on E, c6 is 29 the day before turning 30,
    # c9 has no citizen row.
    assert pick(rows, dimension="age_group", dimension_value="12-17")["value"] == 1
    assert pick(rows, dimension="age_group", dimension_value="65+")["value"] == 1
    assert pick(rows, dimension="age_group", dimension_value="23-29")["value"] == 1
    assert pick(rows, dimension="age_group", dimension_value="Ukendt")["value"] == 1


def test_gender_and_bydel_with_unknowns(rows, pick):
    assert pick(rows, dimension="gender", dimension_value="M")["value"] == 2
    assert pick(rows, dimension="gender", dimension_value="K")["value"] == 1
    assert pick(rows, dimension="gender", dimension_value="Ukendt")["value"] == 1   # c9
    assert pick(rows, dimension="bydel", dimension_value="Nørrebro")["value"] == 1
    assert pick(rows, dimension="bydel", dimension_value="Valby")["value"] == 1
    assert pick(rows, dimension="bydel", dimension_value="Ukendt")["value"] == 2    # c2, c9


def test_two_services_in_one_unit_count_one_citizen(make_model, q3_2025, pick):
    model = make_model(fact_service=[voksen("c1", "2025-01-01"), dict(voksen("c1", "2025-03-01"), service_key="x")])
    rows = compute_kpi("T1.01", model, q3_2025)
    assert pick(rows, org_level="unit", org_key="Socialcenter Øst")["value"] == 1


def test_empty_model_gives_total_zero(make_model, q3_2025, pick):
    rows = compute_kpi("T1.01", make_model(), q3_2025)
    assert len(rows) == 1
    assert pick(rows)["value"] == 0


def test_stock_is_reported_for_quarters_only(make_model):
    model = make_model(fact_service=[voksen("c1", "2025-01-01")])
    rows = compute_kpis(model, quarter_periods(2025, 3, dt.date(2025, 10, 15)))
    assert set(rows.loc[rows["kpi_id"] == "T1.01", "period_type"]) == {"quarter"}
    with pytest.raises(ValueError, match="quarters only"):
        compute_kpi("T1.01", model, quarter_periods(2025, 3, dt.date(2025, 10, 15))[1])


def test_provisional_quarter_status_on_extraction_date(make_model, pick):
    # Running quarter: E = the extraction date 2025-08-15; c2's service ended 2025-08-20.
    model = make_model(extraction_date=dt.date(2025, 8, 15),
                       fact_service=[voksen("c1", "2025-08-16"), voksen("c2", "2025-01-01", "2025-08-20")])
    period = quarter_periods(2025, 3, dt.date(2025, 8, 15))[0]
    assert period.end == dt.date(2025, 8, 15)
    assert pick(compute_kpi("T1.01", model, period))["value"] == 1
    assert pd.Timestamp(compute_kpi("T1.01", model, period)["period_end"].iloc[0]) == pd.Timestamp("2025-08-15")
