"""T1.01 Borgere med en aktiv indsats on hand-built data (2025-Q3, E = 2025-09-30)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

import etl.kpi
from etl.core.periods import quarter_periods
from etl.kpi import compute_kpi, compute_kpis
from etl.kpi.theme1 import system_combinations

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


def test_stock_is_reported_for_quarters_only(make_model, monkeypatch):
    # compute_kpis over a catalogue of T1.01 alone (every KPI would only make the test slow).
    monkeypatch.setattr(etl.kpi, "CATALOG", {"T1.01": etl.kpi.CATALOG["T1.01"]})
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


# --- T1.02 Borgere i flere fagsystemer ------------------------------------------------

def boern(citizen, start, end=None, unit="BFC-NORD", target="Socialt udsat"):
    return dict(voksen(citizen, start, end, unit, target), service_key=f"boern:{citizen}:{start}",
                source="boern", area=BOERN)


@pytest.fixture
def systems_rows(make_model, q3_2025):
    services = [
        boern("c1", "2024-01-01"), voksen("c1", "2025-01-01"),           # c1: three systems,
        voksen("c2", "2025-01-01"),                                       # c2: voksen + a §107 stay
        voksen("c3", "2025-01-01", unit="CHR-01"),
        boern("c3", "2024-01-01", "2025-09-29"),                          # ended the day before E
        boern("c4", "2025-01-01"), voksen("c4", "2025-10-01"),            # voksen starts after E
        voksen("c5", "2025-01-01"), voksen("c5", "2025-02-01", unit="CHR-01"),  # one system, two units
        boern("c6", "2025-09-30"), voksen("c6", "2025-01-01", "2025-09-30"),  # both on E itself
        voksen("c7", "2025-01-01", unit="CSU-VEST"),
    ]
    stays = [
        stay("c1", "Herberg §110", "2025-09-01"),                         # ... the third for c1
        stay("c2", "Midlertidigt botilbud §107", "2025-01-01", unit="TIL-BO107"),
        stay("c7", "Natcafé", "2025-09-29 23:00", unit="TIL-NAT"),        # a natcafé is no system here
        stay(None, "Herberg §110", "2025-09-01"),                         # anonymous: never a citizen
    ]
    return compute_kpi("T1.02", make_model(fact_service=services, fact_stay=stays), q3_2025)


def test_citizens_in_two_or_three_systems(systems_rows, pick):
    # T1.01: c1..c7 (7); in >=2 systems: c1 (boern+voksen+tilbud), c2 (voksen+tilbud), c6 (boern+voksen).
    assert pick(systems_rows)["value"] == 3
    share = pick(systems_rows, "share")
    assert (share["numerator"], share["denominator"]) == (3, 7)
    assert share["value"] == pytest.approx(3 / 7)


def test_combination_of_systems_adds_up_to_the_total(systems_rows, pick):
    for combination in ("boern+voksen+tilbud", "voksen+tilbud", "boern+voksen"):
        assert pick(systems_rows, dimension="systems", dimension_value=combination)["value"] == 1
        share = pick(systems_rows, "share", dimension="systems", dimension_value=combination)
        assert (share["numerator"], share["denominator"]) == (1, 7)   # denominator: all T1.01 citizens
    assert set(systems_rows["dimension_value"].dropna()) == {"boern+voksen+tilbud", "voksen+tilbud", "boern+voksen"}


def test_several_systems_per_org_group(systems_rows, pick):
    # Voksne: c1, c2, c3, c5, c6, c7 of which c1, c2, c6; Børn og Unge: c1, c4, c6 of which c1, c6.
    voksne = pick(systems_rows, "share", org_level="area", org_key=VOKSNE)
    assert (voksne["numerator"], voksne["denominator"]) == (3, 6)
    boern_area = pick(systems_rows, "share", org_level="area", org_key=BOERN)
    assert (boern_area["numerator"], boern_area["denominator"]) == (2, 3)
    # Socialcenter Øst: c1, c2, c5, c6; the herberg unit sees c1 in all three systems.
    oest = pick(systems_rows, "share", org_level="unit", org_key="Socialcenter Øst")
    assert (oest["numerator"], oest["denominator"]) == (3, 4)
    assert pick(systems_rows, "share", org_level="unit", org_key="Socialcenter Øst",
                dimension="systems", dimension_value="boern+voksen")["denominator"] == 4
    assert pick(systems_rows, org_level="unit", org_key="Herberger og forsorgshjem",
                dimension="systems", dimension_value="boern+voksen+tilbud")["value"] == 1
    # A center with citizens but none in several systems: 0 of 2, a real 0.
    handicap = pick(systems_rows, "share", org_level="center", org_key="Center for Handicap og Rehabilitering")
    assert (handicap["numerator"], handicap["denominator"], handicap["value"]) == (0, 2, 0)


def test_empty_model_gives_zero_and_no_share(make_model, q3_2025, pick):
    rows = compute_kpi("T1.02", make_model(), q3_2025)
    assert pick(rows)["value"] == 0
    share = pick(rows, "share")
    assert (share["numerator"], share["denominator"]) == (0, 0) and pd.isna(share["value"])


# --- T1.03 Udenbys borgere --------------------------------------------------------

@pytest.fixture
def residence_rows(make_model, q3_2025):
    services = [voksen(c, "2025-01-01") for c in ("a", "b", "c", "d", "e", "g")] + [boern("f", "2025-01-01")]
    citizens = [
        dict(citizen_key="a", municipality_code="0101"),   # Copenhagen
        dict(citizen_key="b", municipality_code="0167"),   # Hvidovre
        dict(citizen_key="c", municipality_code=None),     # no residence on record
        # d: not in dim_citizen at all -> unknown
        dict(citizen_key="e", municipality_code="101"),    # lost leading zero: still Copenhagen
        dict(citizen_key="f", municipality_code="0147"),   # Frederiksberg
        dict(citizen_key="g", municipality_code=" "),      # blank: no residence on record
        dict(citizen_key="x", municipality_code="0167"),   # not a T1.01 citizen
    ]
    return compute_kpi("T1.03", make_model(fact_service=services, dim_citizen=citizens), q3_2025)


def test_share_elsewhere_and_unknown_over_every_citizen(residence_rows, pick):
    elsewhere, unknown = pick(residence_rows, "share"), pick(residence_rows, "share_unknown")
    assert (elsewhere["numerator"], elsewhere["denominator"]) == (2, 7)        # b, f
    assert (unknown["numerator"], unknown["denominator"]) == (3, 7)            # c, d, g
    assert elsewhere["value"] == pytest.approx(2 / 7) and unknown["value"] == pytest.approx(3 / 7)


def test_residence_by_area(residence_rows, pick):
    voksne = pick(residence_rows, "share", dimension="area", dimension_value=VOKSNE)
    assert (voksne["numerator"], voksne["denominator"]) == (1, 6)
    assert pick(residence_rows, "share_unknown", org_level="area", org_key=VOKSNE)["numerator"] == 3
    boern_area = pick(residence_rows, "share", org_level="area", org_key=BOERN)
    assert (boern_area["numerator"], boern_area["denominator"], boern_area["value"]) == (1, 1, 1)
    none_unknown = pick(residence_rows, "share_unknown", dimension="area", dimension_value=BOERN)
    assert (none_unknown["numerator"], none_unknown["value"]) == (0, 0)


def test_residence_empty_model(make_model, q3_2025, pick):
    rows = compute_kpi("T1.03", make_model(), q3_2025)
    for measure in ("share", "share_unknown"):
        row = pick(rows, measure)
        assert (row["numerator"], row["denominator"]) == (0, 0) and pd.isna(row["value"])


# --- T1.04 Beskæftigelses- og uddannelsesandel ------------------------------------

def status(citizen, month, value, completed=False):
    return dict(citizen_key=citizen, month=month, status=value, completed_education=completed)


@pytest.fixture
def employment_model(make_model):
    services = [voksen("p1", "2025-01-01"), voksen("p2", "2025-01-01"), voksen("p3", "2025-01-01"),
                voksen("p4", "2025-01-01", target="Handicap"), voksen("p5", "2025-01-01"),
                voksen("p6", "2025-01-01"), voksen("p8", "2025-01-01"), voksen("p9", "2025-01-01"),
                voksen("q1", "2024-01-01", "2025-09-29")]                  # not active on E
    stays = [stay("p7", "Herberg §110", "2025-08-01")]                   # stays only: target Ukendt
    citizens = [
        dict(citizen_key="p1", birth_date="1995-05-05"),   # 30
        dict(citizen_key="p2", birth_date="2007-09-30"),   # turns 18 on E: in
        dict(citizen_key="p3", birth_date="1960-09-30"),   # turns 65 on E: out
        dict(citizen_key="p4", birth_date="1960-10-01"),   # 64 on E (65 the day after): in
        dict(citizen_key="p5", birth_date="2007-10-01"),   # 17 on E: out
        dict(citizen_key="p6", birth_date="1985-01-01"),   # no status row for September
        dict(citizen_key="p7", birth_date="1985-01-01"),
        dict(citizen_key="p9", birth_date="2004-02-29"),   # 21
        dict(citizen_key="q1", birth_date="1985-01-01"),
        # p8: no citizen row, so no age: out
    ]
    statuses = [
        status("p1", "2025-09-01", "Beskæftiget"), status("p2", "2025-09-01", "Ledig"),
        status("p3", "2025-09-01", "Beskæftiget"), status("p4", "2025-09-01", "Uddannelse"),
        status("p5", "2025-09-01", "Beskæftiget"), status("p6", "2025-08-01", "Beskæftiget"),
        status("p7", "2025-09-01", "Erhvervspraktik"), status("p8", "2025-09-01", "Beskæftiget"),
        status("p9", "2025-09-01", "Uden for arbejdsstyrken"), status("q1", "2025-09-01", "Beskæftiget"),
    ]
    return lambda **kw: make_model(fact_service=services, fact_stay=stays, dim_citizen=citizens,
                                   fact_employment_status=statuses, **kw)


def test_share_in_work_or_education_18_to_64_with_a_status(employment_model, q3_2025, pick):
    rows = compute_kpi("T1.04", employment_model(), q3_2025)
    share = pick(rows, "share")
    # Denominator p1, p2, p4, p7, p9; in work/education/placement p1, p4, p7.
    assert (share["numerator"], share["denominator"]) == (3, 5)
    assert share["value"] == pytest.approx(0.6)


def test_share_in_work_by_target_group(employment_model, q3_2025, pick):
    rows = compute_kpi("T1.04", employment_model(), q3_2025)
    psykiatri = pick(rows, "share", dimension="target_group", dimension_value="Psykiatri")  # p1, p2, p9
    assert (psykiatri["numerator"], psykiatri["denominator"]) == (1, 3)
    assert pick(rows, "share", dimension="target_group", dimension_value="Handicap")["value"] == 1   # p4
    assert pick(rows, "share", dimension="target_group", dimension_value="Ukendt")["value"] == 1     # p7
    assert pick(rows, "share", org_level="unit", org_key="Herberger og forsorgshjem")["denominator"] == 1


def test_running_quarter_uses_the_month_of_the_extraction_date(employment_model, pick):
    # E = 2025-08-15: the August rows count; only p6 has one.
    model = employment_model(extraction_date=dt.date(2025, 8, 15))
    rows = compute_kpi("T1.04", model, quarter_periods(2025, 3, dt.date(2025, 8, 15))[0])
    share = pick(rows, "share")
    assert (share["numerator"], share["denominator"], share["value"]) == (1, 1, 1)


def test_share_in_work_without_status_rows_is_zero_over_zero(make_model, q3_2025, pick):
    model = make_model(fact_service=[voksen("p1", "2025-01-01")],
                       dim_citizen=[dict(citizen_key="p1", birth_date="1990-01-01")])
    share = pick(compute_kpi("T1.04", model, q3_2025), "share")
    assert (share["numerator"], share["denominator"]) == (0, 0) and pd.isna(share["value"])


def test_system_combinations_per_citizen():
    """Systems in the order boern, voksen, tilbud; a system outside them counts for none."""

    members = pd.DataFrame({
        "citizen_key": ["c2", "c1", "c2", "c3", "c2", "c1", "c4", "c4"],
        "system": ["tilbud", "voksen", "boern", "tilbud", "voksen", "voksen", "andet", "boern"],
    }, dtype="str")
    combinations = system_combinations(members)
    assert combinations.values.tolist() == [
        ["c1", 1, "voksen"], ["c2", 3, "boern+voksen+tilbud"], ["c3", 1, "tilbud"], ["c4", 1, "boern"]]
    assert system_combinations(members.iloc[:0]).empty
