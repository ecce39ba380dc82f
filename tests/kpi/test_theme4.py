"""Theme 4 — Borgerens forløb on hand-built data (mostly 2025-Q3: 2025-07-01 .. 2025-09-30).

Follow-up windows include their last day; a share whose window has not passed by the
extraction date is not yet available: value, numerator and denominator NULL, never 0.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.core.periods import Period, quarter_periods
from etl.kpi import compute_kpi
from etl.kpi.theme4 import birthday

VOKSNE, BOERN = "Voksne", "Børn og Unge"
HERBERG_UNIT = "Herberger og forsorgshjem"


def stay(key, citizen, facility_type, check_in, check_out=None, to=None, unit="TIL-HERB"):
    return dict(stay_key=key, facility_type=facility_type, citizen_key=citizen, has_cpr=citizen is not None,
                check_in=check_in, check_out=check_out, discharged_to=to, unit_code=unit, area=VOKSNE)


def herberg(key, citizen, check_in, check_out=None, to=None):
    return stay(key, citizen, "Herberg §110", check_in, check_out, to)


def service(key, citizen, code, start, end=None, unit="CSU-ØST", target="Hjemløshed", source="voksen",
            category=None):
    return dict(service_key=key, source=source, citizen_key=citizen, service_code=code, category=category,
                start_date=start, end_date=end, unit_code=unit, target_group=target,
                area=BOERN if source == "boern" else VOKSNE)


def assert_not_available(row):
    assert pd.isna(row["value"]) and pd.isna(row["numerator"]) and pd.isna(row["denominator"])


# --- T4.01 Fra herberg til bolig ----------------------------------------------------

SHELTER_STAYS = [
    herberg("h1", "a", "2025-05-01", "2025-07-01 08:00", "Egen bolig"),     # first day, home on day 0
    herberg("h2", "b", "2025-05-01", "2025-09-30 23:00", "Ukendt"),         # last day; §107 on day 90
    herberg("h3", "c", "2025-05-01", "2025-08-01", "Ukendt"),               # §108 stay only on day 91
    stay("h3b", "c", "Længerevarende botilbud §108", "2025-10-31", unit="TIL-BO108"),
    herberg("h4", "d", "2025-05-01", "2025-06-30 23:59", "Egen bolig"),     # the day before S
    herberg("h5", "e", "2025-05-01", "2025-10-01 00:00", "Egen bolig"),     # the day after E
    herberg("h6", "f", "2025-05-01", "2025-08-10", "§107"),                 # registered §107, nothing started
    stay("h6n", "f", "Natcafé", "2025-08-11 22:00", "2025-08-12 07:00", "Egen bolig", unit="TIL-NAT"),  # no step
    stay("h7a", "g", "Forsorgshjem §110", "2025-06-01", "2025-07-10", "Andet herberg"),
    herberg("h7b", "g", "2025-07-10", "2025-09-01", "Egen bolig"),          # g: two check-outs
    herberg("h8", None, "2025-07-01", "2025-07-05", "Egen bolig"),          # anonymous: no person
    herberg("h9", "h", "2025-07-01", "2025-09-15 10:00", "Egen bolig"),     # home and §107 stay on day 0
    stay("h9b", "h", "Midlertidigt botilbud §107", "2025-09-15 14:00", unit="TIL-BO107"),
    stay("h10", "i", "Natcafé", "2025-07-01 22:00", "2025-07-02 08:00", "Egen bolig", unit="TIL-NAT"),
    herberg("h11", "j", "2025-05-01", "2025-07-15", "Ukendt"),              # §107 service started before
]
NEXT_STEP_SERVICES = [
    service("s2", "b", "SEL107", "2025-12-29"),                             # 2025-09-30 + 90 days
    service("s7", "g", "SEL108", "2025-08-20"),                             # before g's home on 09-01
    service("s11", "j", "SEL107", "2025-06-01"),                            # started before check-out
    service("s12", "a", "SEL85", "2025-07-02"),                             # not a next step
]


@pytest.fixture
def shelter_model(make_model):
    return lambda extraction: make_model(extraction_date=extraction, fact_stay=SHELTER_STAYS,
                                         fact_service=NEXT_STEP_SERVICES)


def test_first_next_step_within_90_days(shelter_model, q3_2025, pick):
    # Persons a, b, c, f, g, h, j (7). First next steps: a Egen bolig (day 0), b §107 (day 90),
    # g §108 (before its home on 09-01), h §107 (tie with Egen bolig on day 0: §107 first).
    # None: c (day 91), f (only registered §107; a natcafé is no step), j (service started before check-out).
    rows = compute_kpi("T4.01", shelter_model(dt.date(2025, 12, 29)), q3_2025)
    assert pick(rows)["value"] == 7
    share = pick(rows, "share")
    assert (share["numerator"], share["denominator"]) == (4, 7)
    assert share["value"] == pytest.approx(4 / 7)
    steps = {v: pick(rows, "share", dimension="next_step", dimension_value=v) for v in ("§107", "§108", "Egen bolig")}
    assert {v: (r["numerator"], r["denominator"]) for v, r in steps.items()} == {
        "§107": (2, 7), "§108": (1, 7), "Egen bolig": (1, 7)}
    assert set(rows["dimension_value"].dropna()) == {"§107", "§108", "Egen bolig"}
    assert pick(rows, "share", org_level="unit", org_key=HERBERG_UNIT)["denominator"] == 7


def test_share_not_yet_available_until_90_days_after_E(shelter_model, q3_2025, pick):
    # 2025-12-28 is day 89 after E: the count is reported, the share is NULL, not 0.
    rows = compute_kpi("T4.01", shelter_model(dt.date(2025, 12, 28)), q3_2025)
    assert pick(rows)["value"] == 7
    for level, key in (("sof", "SOF"), ("area", VOKSNE), ("center", "Center for Rusmiddel og Hjemløshed"),
                       ("unit", HERBERG_UNIT)):
        assert_not_available(pick(rows, "share", org_level=level, org_key=key))
    assert rows.loc[rows["measure"] == "share", "dimension"].isna().all()


def test_running_quarter_share_not_available(shelter_model, pick):
    model = shelter_model(dt.date(2025, 9, 20))
    rows = compute_kpi("T4.01", model, quarter_periods(2025, 3, dt.date(2025, 9, 20))[0])
    assert pick(rows)["value"] == 6     # b's check-out on 09-30 has not happened by E = 09-20
    assert_not_available(pick(rows, "share"))


def test_no_shelter_exits_gives_zero_and_no_share(make_model, q3_2025, pick):
    rows = compute_kpi("T4.01", make_model(extraction_date=dt.date(2026, 1, 31)), q3_2025)
    assert pick(rows)["value"] == 0
    share = pick(rows, "share")
    assert (share["numerator"], share["denominator"]) == (0, 0) and pd.isna(share["value"])


# --- T4.02 Fastholdt i egen bolig ---------------------------------------------------

def test_kept_own_home_cohort_one_year_earlier(make_model, q3_2025, pick):
    # Cohort: left a §110 stay to Egen bolig in 2024-Q3. Kept: k1, k3, k6 of k1, k2, k3, k6, k7, k8.
    stays = [
        herberg("k1", "k1", "2024-05-01", "2024-07-01 09:00", "Egen bolig"),    # no return
        herberg("k2", "k2", "2024-05-01", "2024-09-30 09:00", "Egen bolig"),
        herberg("k2r", "k2", "2025-09-30 20:00"),                                # back on the last day
        herberg("k3", "k3", "2024-05-01", "2024-08-15", "Egen bolig"),
        herberg("k3r", "k3", "2025-08-16"),                                      # back the day after
        herberg("k4", "k4", "2024-05-01", "2024-06-30", "Egen bolig"),          # before the cohort
        herberg("k5", "k5", "2024-05-01", "2024-08-01", "Hospital"),            # not to own home
        herberg("k6", "k6", "2024-05-01", "2024-07-10", "Egen bolig"),
        stay("k6n", "k6", "Natcafé", "2024-08-01 22:00", "2024-08-02 07:00", unit="TIL-NAT"),  # not §110
        herberg("k7", "k7", "2024-05-01", "2024-07-05", "Egen bolig"),          # first exit counts,
        stay("k7b", "k7", "Forsorgshjem §110", "2024-08-01", "2024-09-01", "Egen bolig"),  # back 08-01
        herberg("k8", "k8", "2024-05-01", "2024-07-20 10:00", "Egen bolig"),
        herberg("k8r", "k8", "2024-07-20 18:00"),                                # back the same evening
    ]
    rows = compute_kpi("T4.02", make_model(fact_stay=stays), q3_2025)
    share = pick(rows, "share")
    assert (share["numerator"], share["denominator"]) == (3, 6)
    assert pick(rows, "share", org_level="unit", org_key=HERBERG_UNIT)["value"] == pytest.approx(0.5)


def test_kept_own_home_leap_day_and_not_yet_available(make_model, pick):
    # Cohort 2024-Q1 for 2025-Q1: left on 2024-02-29, 12 months later is 2025-02-28.
    stays = [herberg("l1", "l1", "2024-01-01", "2024-02-29", "Egen bolig"), herberg("l1r", "l1", "2025-02-28"),
             herberg("l2", "l2", "2024-01-01", "2024-02-29", "Egen bolig"), herberg("l2r", "l2", "2025-03-01")]
    model = make_model(fact_stay=stays, extraction_date=dt.date(2025, 4, 15))
    share = pick(compute_kpi("T4.02", model, quarter_periods(2025, 1, dt.date(2025, 4, 15))[0]), "share")
    assert (share["numerator"], share["denominator"]) == (1, 2)     # l2 kept, l1 came back on day 365
    # 2025-Q3 closed, seen on 2025-09-29: the cohort's last 12 months end 2025-09-30.
    early = make_model(fact_stay=[herberg("m1", "m1", "2024-05-01", "2024-09-30", "Egen bolig")],
                       extraction_date=dt.date(2025, 9, 29))
    closed_q3 = Period("quarter", "2025-Q3", dt.date(2025, 7, 1), dt.date(2025, 9, 30))
    assert_not_available(pick(compute_kpi("T4.02", early, closed_q3), "share"))


def test_kept_own_home_empty_cohort(make_model, q3_2025, pick):
    share = pick(compute_kpi("T4.02", make_model(), q3_2025), "share")
    assert (share["numerator"], share["denominator"]) == (0, 0) and pd.isna(share["value"])


# --- T4.03 Genindskrivning i rusmiddelbehandling ------------------------------------

TREATMENTS = [
    service("r1", "r1", "SEL101", "2025-01-01", "2025-07-01"), service("r1n", "r1", "SEL101", "2026-07-01"),
    service("r2", "r2", "SEL101", "2025-01-01", "2025-09-30"), service("r2n", "r2", "SEL101", "2026-10-01"),
    service("r3", "r3", "SEL101", "2025-01-01", "2025-08-01"), service("r3n", "r3", "SEL101", "2025-08-01"),
    service("r4", "r4", "SEL101", "2025-01-01", "2025-08-15"),
    service("r5", "r5", "SEL101", "2025-01-01", "2025-06-30"), service("r5n", "r5", "SEL101", "2025-07-01"),
    service("r6", "r6", "SEL85", "2025-01-01", "2025-08-01"), service("r6n", "r6", "SEL101", "2025-09-01"),
    service("r7", "r7", "SEL101", "2025-05-01", "2025-09-01", unit="CRM-01"),
    service("r7n", "r7", "SEL101", "2025-06-01"),                            # started before the end
    service("r8", "r8", "SEL101", "2025-01-01", "2025-07-15"), service("r8n", "r8", "SEL101", "2028-07-15"),
    service("r9", "r9", "SEL101", "2025-01-01", "2025-07-20"), service("r9n", "r9", "SEL101", "2028-07-21"),
]
# Ended in Q3: r1, r2, r3, r4, r7, r8, r9 (7). Again within 365 days: r1 (day 365); r2 is day 366,
# r3 started on the end day (a transfer). Within 3 years: r1, r2, r8 (exactly 3 years); not r9.


def test_restart_within_365_days_once_365_days_have_passed(make_model, q3_2025, pick):
    rows = compute_kpi("T4.03", make_model(fact_service=TREATMENTS, extraction_date=dt.date(2026, 9, 30)), q3_2025)
    share = pick(rows, "share_365")
    assert (share["numerator"], share["denominator"]) == (1, 7)
    assert pick(rows, "share_365", org_level="unit", org_key="Rusmiddelrådgivningen")["value"] == 0   # r7
    assert_not_available(pick(rows, "share_3y"))


def test_restart_not_available_before_day_365(make_model, q3_2025, pick):
    rows = compute_kpi("T4.03", make_model(fact_service=TREATMENTS, extraction_date=dt.date(2026, 9, 29)), q3_2025)
    assert_not_available(pick(rows, "share_365"))
    assert_not_available(pick(rows, "share_3y"))
    assert set(rows["org_level"]) == {"sof", "area", "center", "unit"}   # every level, all NULL


def test_restart_within_3_years(make_model, q3_2025, pick):
    rows = compute_kpi("T4.03", make_model(fact_service=TREATMENTS, extraction_date=dt.date(2028, 9, 30)), q3_2025)
    assert (pick(rows, "share_365")["numerator"], pick(rows, "share_365")["denominator"]) == (1, 7)
    share_3y = pick(rows, "share_3y")
    assert (share_3y["numerator"], share_3y["denominator"]) == (3, 7)


def test_restart_3_years_from_a_leap_day(make_model, pick):
    # Ended 2024-02-29: three years later is 2027-02-28 (included), 2027-03-01 is too late.
    services = [service("a", "a", "SEL101", "2023-01-01", "2024-02-29"), service("an", "a", "SEL101", "2027-02-28"),
                service("b", "b", "SEL101", "2023-01-01", "2024-02-29"), service("bn", "b", "SEL101", "2027-03-01")]
    model = make_model(fact_service=services, extraction_date=dt.date(2027, 3, 31))
    rows = compute_kpi("T4.03", model, quarter_periods(2024, 1, dt.date(2027, 3, 31))[0])
    assert (pick(rows, "share_3y")["numerator"], pick(rows, "share_3y")["denominator"]) == (1, 2)
    assert pick(rows, "share_365")["numerator"] == 0


# --- T4.04 Uddannelse og beskæftigelse ----------------------------------------------

def status(citizen, month, value, completed=False):
    return dict(citizen_key=citizen, month=month, status=value, completed_education=completed)


@pytest.fixture
def employment_model(make_model):
    born_1985 = ["w1", "w2", "w3", "w4", "w5", "w7", "w8", "w9", "w12", "w13", "w14", "w15"]
    citizens = [dict(citizen_key=c, birth_date="1985-03-03") for c in born_1985] + [
        dict(citizen_key="w6", birth_date="2007-08-02"),    # 17 on 2025-08-01
        dict(citizen_key="w6b", birth_date="2007-08-01"),   # turns 18 on 2025-08-01
        dict(citizen_key="w10", birth_date="1961-07-01"),   # 64 on 2025-07-01
        dict(citizen_key="w11", birth_date="1960-07-01"),   # 65 on 2025-07-01
    ]
    active = ["w1", "w2", "w3", "w4", "w5", "w6", "w6b", "w11", "w12", "w13", "w14", "w15"]
    services = [service(f"s-{c}", c, "SEL85", "2024-06-01", target="Psykiatri") for c in active] + [
        service("s-w8", "w8", "SEL85", "2024-06-01", "2025-07-31", unit="CHR-01", target="Handicap"),
        service("s-w9", "w9", "SEL85", "2024-06-01", "2025-06-30"),
    ]
    stays = [herberg("st-w10", "w10", "2025-01-01")]                 # stays only: target Ukendt
    statuses = [
        status("w1", "2025-06-01", "Ledig"), status("w1", "2025-07-01", "Beskæftiget"),
        status("w2", "2025-08-01", "Ledig"), status("w2", "2025-09-01", "Uddannelse", completed=True),
        status("w3", "2025-09-01", "Ledig"), status("w3", "2025-10-01", "Beskæftiget"),
        status("w4", "2025-07-01", "Beskæftiget"), status("w4", "2025-08-01", "Beskæftiget", completed=True),
        status("w5", "2025-08-01", "Erhvervspraktik"),                # no row for July
        status("w6", "2025-07-01", "Ledig"), status("w6", "2025-08-01", "Beskæftiget"),
        status("w6b", "2025-07-01", "Ledig"), status("w6b", "2025-08-01", "Erhvervspraktik"),
        status("w7", "2025-07-01", "Ledig", completed=True), status("w7", "2025-08-01", "Beskæftiget"),
        status("w8", "2025-07-01", "Ledig"), status("w8", "2025-08-01", "Beskæftiget"),
        status("w9", "2025-07-01", "Ledig"), status("w9", "2025-08-01", "Beskæftiget"),
        status("w10", "2025-06-01", "Uden for arbejdsstyrken"), status("w10", "2025-07-01", "Uddannelse"),
        status("w11", "2025-06-01", "Ledig"), status("w11", "2025-07-01", "Beskæftiget"),
        status("w12", "2025-06-01", "Ledig"), status("w12", "2025-07-01", "Beskæftiget"),
        status("w12", "2025-08-01", "Ledig"), status("w12", "2025-09-01", "Uddannelse"),
        status("w13", "2025-06-01", "Ledig", completed=True),
        status("w14", "2025-01-01", "Ledig"), status("w14", "2025-02-01", "Beskæftiget"),
        status("w15", "2024-12-01", "Ledig"), status("w15", "2025-01-01", "Beskæftiget"),
    ]
    return make_model(dim_citizen=citizens, fact_service=services, fact_stay=stays,
                      fact_employment_status=statuses)


def test_into_work_or_education_in_the_quarter(employment_model, q3_2025, pick):
    # w1 (from June), w2, w6b (18 on the month's first day), w8 (service ended the month before),
    # w10 (64), w12 (twice). Not: w3 (October), w4 (already working), w5 (no row before),
    # w6 (17), w7 (no intervention), w9 (service ended two months before), w11 (65).
    rows = compute_kpi("T4.04", employment_model, q3_2025)
    assert pick(rows)["value"] == 6
    assert pick(rows, dimension="status", dimension_value="Beskæftiget")["value"] == 3      # w1, w8, w12
    assert pick(rows, dimension="status", dimension_value="Uddannelse")["value"] == 3       # w2, w10, w12
    assert pick(rows, dimension="status", dimension_value="Erhvervspraktik")["value"] == 1  # w6b
    assert pick(rows, dimension="target_group", dimension_value="Psykiatri")["value"] == 4
    assert pick(rows, dimension="target_group", dimension_value="Handicap")["value"] == 1
    assert pick(rows, dimension="target_group", dimension_value="Ukendt")["value"] == 1
    assert pick(rows, org_level="unit", org_key=HERBERG_UNIT)["value"] == 1                 # w10
    assert pick(rows, org_level="center", org_key="Center for Handicap og Rehabilitering")["value"] == 1


def test_completed_educations_in_the_quarter(employment_model, q3_2025, pick):
    # w2 (September), w4 (August); not w7 (no intervention) or w13 (June).
    rows = compute_kpi("T4.04", employment_model, q3_2025)
    assert pick(rows, "completed_education")["value"] == 2
    assert pick(rows, "completed_education", dimension="status", dimension_value="Uddannelse")["value"] == 1


def test_into_work_year_to_date(employment_model, ytd_q3_2025, pick):
    # Also w14 (February) and w15 (December 2024 -> January 2025); also w13's June education.
    rows = compute_kpi("T4.04", employment_model, ytd_q3_2025)
    assert pick(rows)["value"] == 8
    assert pick(rows, "completed_education")["value"] == 3


def test_into_work_empty(make_model, q3_2025, pick):
    rows = compute_kpi("T4.04", make_model(), q3_2025)
    assert pick(rows)["value"] == 0 and pick(rows, "completed_education")["value"] == 0


# --- T4.05 Udvikling på indsatstrappen (VUM) ----------------------------------------

def assessment(key, citizen, day, level):
    return dict(assessment_id=key, citizen_key=citizen, assessment_date=day, level=level)


def case(key, citizen, opened, closed=None, unit="CSU-ØST", target="Psykiatri", source="voksen"):
    return dict(case_key=key, source=source, citizen_key=citizen, opened_date=opened, closed_date=closed,
                unit_code=unit, target_group=target, area=VOKSNE if source == "voksen" else BOERN)


@pytest.fixture
def vum_rows(make_model, q3_2025):
    assessments = [
        assessment("1", "v1", "2025-03-01", 3), assessment("2", "v1", "2025-08-01", 2),   # improved
        assessment("3", "v2", "2024-12-01", 2), assessment("4", "v2", "2025-07-01", 2),   # unchanged
        assessment("5", "v3", "2025-01-01", 1), assessment("6", "v3", "2025-07-15", 3),
        assessment("7", "v3", "2025-09-30", 2),            # latest vs 07-15 (also in Q3): improved
        assessment("8", "v4", "2025-08-01", 2),            # nothing earlier: not compared
        assessment("11", "v5", "2025-05-01", 1), assessment("12", "v5", "2025-09-01", 4),  # worsened
        assessment("13", "v6", "2025-06-30", 1), assessment("14", "v6", "2025-10-01", 3),  # none in Q3
        assessment("15", "v7", "2025-02-01", 2),
        assessment("9", "v7", "2025-08-10", 3), assessment("10", "v7", "2025-08-10", 1),   # id 10 after 9
    ]
    cases = [
        case("c1", "v1", "2024-01-01"),
        case("c2", "v2", "2024-01-01", "2025-07-01", unit="CHR-01", target="Handicap"),    # closes that day
        case("c3", "v3", "2024-01-01", "2025-09-29"),                                        # closed before
        case("c5a", "v5", "2024-01-01"), case("c5b", "v5", "2025-01-01", unit="CRM-01", target="Rusmiddel"),
        case("c7", "v7", "2025-08-11"),                                                       # opened after
        case("c8", "v1", "2024-01-01", unit="BFC-NORD", target="Socialt udsat", source="boern"),  # not adult
    ]
    return compute_kpi("T4.05", make_model(fact_assessment=assessments, fact_case=cases), q3_2025)


def test_vum_shares_improved_unchanged_worsened(vum_rows, pick):
    # Compared: v1, v2, v3, v5, v7. Improved v1, v3, v7; unchanged v2; worsened v5.
    expected = {"share_improved": 3, "share_unchanged": 1, "share_worsened": 1}
    for measure, numerator in expected.items():
        row = pick(vum_rows, measure)
        assert (row["numerator"], row["denominator"]) == (numerator, 5)
    assert pick(vum_rows, "share_improved")["value"] == pytest.approx(0.6)


def test_vum_target_group_of_adult_cases_open_on_the_assessment_date(vum_rows, pick):
    psykiatri = pick(vum_rows, "share_worsened", dimension="target_group", dimension_value="Psykiatri")
    assert (psykiatri["numerator"], psykiatri["denominator"]) == (1, 2)                      # v5 of v1, v5
    assert pick(vum_rows, "share_unchanged", dimension="target_group", dimension_value="Handicap")["value"] == 1
    assert pick(vum_rows, "share_worsened", dimension="target_group", dimension_value="Rusmiddel")["value"] == 1
    unknown = pick(vum_rows, "share_improved", dimension="target_group", dimension_value="Ukendt")  # v3, v7
    assert (unknown["numerator"], unknown["denominator"]) == (2, 2)
    assert pick(vum_rows, "share_improved", org_level="center", org_key="Ukendt")["denominator"] == 2
    assert pick(vum_rows, "share_improved", org_level="area", org_key=VOKSNE)["denominator"] == 5
    assert not vum_rows["org_key"].eq(BOERN).any() and not vum_rows["dimension_value"].eq("Socialt udsat").any()


def test_vum_empty(make_model, q3_2025, pick):
    rows = compute_kpi("T4.05", make_model(), q3_2025)
    for measure in ("share_improved", "share_unchanged", "share_worsened"):
        row = pick(rows, measure)
        assert (row["numerator"], row["denominator"]) == (0, 0) and pd.isna(row["value"])


# --- T4.06 Tidligere anbragte med voksensag -----------------------------------------

def test_birthday_of_a_leap_day_child_is_1_march_in_other_years():
    births = pd.Series(pd.to_datetime(["2004-02-29", "2004-02-28", "2004-03-01", "2000-02-29"]))
    assert birthday(births, 22).dt.strftime("%Y-%m-%d").tolist() == [
        "2026-03-01", "2026-02-28", "2026-03-01", "2022-03-01"]
    assert birthday(births, 20).dt.strftime("%Y-%m-%d").tolist()[0] == "2024-02-29"


def test_formerly_placed_with_adult_case(make_model, pick):
    q1_2026 = quarter_periods(2026, 1, dt.date(2026, 4, 15))[0]       # 2026-01-01 .. 2026-03-31

    def placement(key, citizen, start, end=None, category="Anbringelse", unit="BFC-NORD"):
        return service(key, citizen, "BL46", start, end, unit=unit, target="Socialt udsat", source="boern",
                       category=category)

    citizens = [
        dict(citizen_key="y1", birth_date="2004-02-29"),   # 18 on 2022-03-01, 22 on 2026-03-01
        dict(citizen_key="y2", birth_date="2004-01-01"),   # 22 on the first day
        dict(citizen_key="y3", birth_date="2004-03-31"),   # 22 on the last day
        dict(citizen_key="y4", birth_date="2004-01-15"),
        dict(citizen_key="y5", birth_date="2004-04-01"),   # 22 the day after E
        dict(citizen_key="y6", birth_date="2004-02-10"),
        dict(citizen_key="y7", birth_date="2004-02-20"),
        dict(citizen_key="y8", birth_date="2004-03-01"),
        dict(citizen_key="y9", birth_date=None),
    ]
    services = [
        placement("p1", "y1", "2022-03-01"),                     # starts on the 18th birthday (1 March)
        placement("p2", "y2", "2015-01-01", "2021-12-31"),       # ended the day before the 18th birthday
        placement("p3", "y3", "2018-01-01", unit="BFC-SYD"),
        placement("p4", "y4", "2018-01-01", "2022-01-15"),       # ends on the 18th birthday
        placement("p5", "y5", "2018-01-01"),
        placement("p6", "y6", "2018-01-01"),
        placement("p7", "y7", "2018-01-01", category="Forebyggende"),   # not a placement
        placement("p8", "y8", "2018-01-01"),
        placement("p9", "y9", "2018-01-01"),
    ]
    cases = [
        case("a1", "y1", "2026-03-01"),                          # on the 22nd birthday (1 March)
        case("a2", "y2", "2023-01-01"),
        case("a3", "y3", "2022-03-30"),                          # the day before the 18th birthday
        case("a4", "y4", "2022-01-15"),                          # on the 18th birthday
        case("a5", "y5", "2023-01-01"),
        case("a6", "y6", "2026-02-11"),                          # the day after the 22nd birthday
        case("b8", "y8", "2023-01-01", source="boern"),          # a children's case is not an adult case
    ]
    model = make_model(extraction_date=dt.date(2026, 4, 15), dim_citizen=citizens, fact_service=services,
                       fact_case=cases)
    rows = compute_kpi("T4.06", model, q1_2026)
    # Cohort y1, y3, y4, y6, y8; with an adult case y1, y4.
    share = pick(rows, "share")
    assert (share["numerator"], share["denominator"]) == (2, 5)
    assert pick(rows, "share", org_level="area", org_key=BOERN)["denominator"] == 5
    south = pick(rows, "share", org_level="center", org_key="Center for Børn og Familier Syd")   # y3
    assert (south["numerator"], south["denominator"]) == (0, 1)


def test_formerly_placed_empty(make_model, q3_2025, pick):
    share = pick(compute_kpi("T4.06", make_model(), q3_2025), "share")
    assert (share["numerator"], share["denominator"]) == (0, 0) and pd.isna(share["value"])
