"""Theme 6 on a hand-built economy: T6.01-T6.07 with every expected value worked out by hand
below (2025-Q3: 1 July - 30 September, 92 days; E = 30 September 2025).

Measures (dim_measure_link), each with its case, unit and caseworker:
  boern:1  child c1, case boern:10 (BFC-NORD, caseworker w1), Opholdssted, 2025-01-01 - open
  boern:2  child c2, case boern:20 (BFC-SYD, no caseworker), Kontaktperson, 2025-06-01 - 2025-08-31
  boern:3  child c1, case boern:10, Aflastning, 2025-02-01 - open, soft-deleted (links, never active)
  boern:7  child c5, case boern:70 (BFC-OEST, w3), Kontaktperson, 2025-09-01 - 2025-09-20
  boern:8  child c5, case boern:70, Kontaktperson, no start date: never active
  voksen:5 adult c3, case voksen:50 (CSU-ØST, w2), Midlertidigt botilbud, 2025-07-15 - 2025-12-10
  voksen:6 adult c4, case voksen:60 (CSU-VEST, w2), Længerevarende botilbud, 2020-01-01 - open

Postings (amounts in DKK; finance unit in brackets):
  P1  boern:1  2025-08-05  93,000 art 4.9 5.28.20 [OMK5101] Privat  July: 31 days x 3,000
  P2  boern:1  2025-09-04  93,000 art 4.9 5.28.20 [OMK5101] Privat  August
  P3  boern:1  2025-09-20 -10,000 art 4.9 5.28.20 [OMK5101] Privat  a credit note
  P4  boern:1  2025-09-04  93,000 ... a second delivery of P2's voucher (DQ18 copy: nowhere)
  P5  boern:2  2025-07-03   6,200 art 4.9 5.28.21 [OMK5102] Egen    June
  P6  boern:2  2025-08-04   6,200 art 4.9 5.28.21 [OMK5102] Egen    July
  P7  -        2025-01-10   5,000 art 4.9 5.28.21 [OMK5101] -       December 2024 paid in January
  P8  boern:3  2025-07-20   4,000 art 4.9 5.28.21 [OMK5101] Egen    the deleted measure's
  P9  voksen:5 2025-08-10  34,000 art 4.9 5.38.52 [OMK6501] Egen    17 days x 2,000
  P10 -        2025-09-10 -12,000 art 7.1 5.38.52 [OMK6501] -       places sold
  P11 -        2025-09-15  -3,000 art 8.6 5.28.20 [OMK5101] -       a refund
  P12 -        2025-08-01  50,000 art 1.1 5.38.52 [OMK6501] -       other art: no money figure
  P13 -        2025-07-10   1,000 art 4.9 5.28.99 [OMK5101] -       unknown function
  P14 boern:1  2025-06-05  90,000 art 4.9 5.28.20 [OMK5101] Privat  June (Q2)
  P15 voksen:6 2025-09-01 2,500,000 art 4.9 5.38.50 [OMK6502] Egen
  P16 boern:7  2025-09-02   2,000 art 4.9 5.28.21 [OMK5102] Egen
  P17 boern:7  2025-09-20  -2,000 art 4.9 5.28.21 [OMK5102] Egen    reverses P16: case net 0

Commitments:
  K1 boern:1  døgn 3,000 from 2025-01-01 open                5.28.20
  K2 boern:2  måned 6,200 from 2025-06-01 open (left open past the measure's end 2025-08-31)
  K3 voksen:5 måned 20,000 2025-07-15 - 2025-12-31 (the measure ends 2025-12-10)  5.38.52
  K4 boern:1  engangs 15,000 on 2025-11-01                   5.28.20
  K5 boern:3  døgn 1,000 from 2025-02-01 open (deleted measure: 0)  5.28.21
  K6 boern:1  døgn 9,999 cancelled
  K7 boern:1  engangs 7,000 on 2026-01-05 (after 31 December)  5.28.20
  K8 -        døgn 100 2025-09-01 - 2025-10-31 (reaches no measure)  5.38.52
  K9 voksen:6 døgn 1,000 from 2020-01-01 open                5.38.50

Budget 2025: 5.28.20/OMK5101 80,000 a month Oprindeligt, July-September Korrigeret 90,000;
5.28.21/OMK5102 6,000 a month; 5.38.52/OMK6501 20,000 a month, September Korrigeret in two
lines 25,000 + 1,000. No budget for 5.38.50/OMK6502.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from etl.core.periods import quarter_periods
from etl.core.reference import read_accounts, read_refusion
from etl.core.settings import REPO_ROOT
from etl.kpi import compute_kpi, theme6
from etl.kpi.theme6 import case_cost
from etl.publish.marts import CASE_COST

NORD, SYD = "Center for Børn og Familier Nord", "Center for Børn og Familier Syd"
SOCIAL = "Center for Socialpsykiatri og Udsathed"
K3_Q3 = 20_000 * (2 + 10 / 31)  # October, November whole, 10 of December's 31 days
K3_Q4 = 20_000 * (15 / 30 + 10 / 31)  # 16-30 November, 1-10 December


def link(key, citizen, case, unit, caseworker, kind, start, end=None, deleted=False, category=None):
    source, service_id = key.split(":")
    return dict(service_key=key, source=source, service_id=service_id, case_key=case, case_pseudonym="p" + case,
                citizen_key=citizen, caseworker_key=caseworker, unit_code=unit,
                area="Børn og Unge" if source == "boern" else "Voksne", category=category, service_type=kind,
                start_date=start, end_date=end, deleted=deleted)


LINKS = [
    link("boern:1", "c1", "boern:10", "BFC-NORD", "w1", "Opholdssted", "2025-01-01", category="Anbringelse"),
    link("boern:2", "c2", "boern:20", "BFC-SYD", None, "Kontaktperson", "2025-06-01", "2025-08-31"),
    link("boern:3", "c1", "boern:10", "BFC-NORD", "w1", "Aflastning", "2025-02-01", deleted=True),
    link("boern:7", "c5", "boern:70", "BFC-OEST", "w3", "Kontaktperson", "2025-09-01", "2025-09-20"),
    link("boern:8", "c5", "boern:70", "BFC-OEST", "w3", "Kontaktperson", None),
    link("voksen:5", "c3", "voksen:50", "CSU-ØST", "w2", "Midlertidigt botilbud", "2025-07-15", "2025-12-10"),
    link("voksen:6", "c4", "voksen:60", "CSU-VEST", "w2", "Længerevarende botilbud", "2020-01-01"),
]


def posting(pid, measure, booked, amount, art, funktion, unit, creditor=None, period_to=None, duplicate=False):
    return dict(posting_id=pid, booked_date=booked, period_to=period_to, amount=amount, funktion=funktion, art=art,
                money_class={"4": "expense", "7": "revenue", "8": "revenue"}.get(art[0], "other"),
                unit_code=unit, creditor_type=creditor, source_system=measure.split(":")[0] if measure else None,
                has_reference=measure is not None, service_key=measure, duplicate=duplicate)


POSTINGS = [
    posting("P1", "boern:1", "2025-08-05", 93_000, "4.9", "5.28.20", "OMK5101", "Privat", "2025-07-31"),
    posting("P2", "boern:1", "2025-09-04", 93_000, "4.9", "5.28.20", "OMK5101", "Privat", "2025-08-31"),
    posting("P3", "boern:1", "2025-09-20", -10_000, "4.9", "5.28.20", "OMK5101", "Privat", "2025-08-31"),
    posting("P4", "boern:1", "2025-09-04", 93_000, "4.9", "5.28.20", "OMK5101", "Privat", "2025-08-31", True),
    posting("P5", "boern:2", "2025-07-03", 6_200, "4.9", "5.28.21", "OMK5102", "Egen", "2025-06-30"),
    posting("P6", "boern:2", "2025-08-04", 6_200, "4.9", "5.28.21", "OMK5102", "Egen", "2025-07-31"),
    posting("P7", None, "2025-01-10", 5_000, "4.9", "5.28.21", "OMK5101", None, "2024-12-31"),
    posting("P8", "boern:3", "2025-07-20", 4_000, "4.9", "5.28.21", "OMK5101", "Egen", "2025-06-30"),
    posting("P9", "voksen:5", "2025-08-10", 34_000, "4.9", "5.38.52", "OMK6501", "Egen", "2025-07-31"),
    posting("P10", None, "2025-09-10", -12_000, "7.1", "5.38.52", "OMK6501", None, "2025-08-31"),
    posting("P11", None, "2025-09-15", -3_000, "8.6", "5.28.20", "OMK5101"),
    posting("P12", None, "2025-08-01", 50_000, "1.1", "5.38.52", "OMK6501"),
    posting("P13", None, "2025-07-10", 1_000, "4.9", "5.28.99", "OMK5101"),
    posting("P14", "boern:1", "2025-06-05", 90_000, "4.9", "5.28.20", "OMK5101", "Privat", "2025-05-31"),
    posting("P15", "voksen:6", "2025-09-01", 2_500_000, "4.9", "5.38.50", "OMK6502", "Egen", "2025-08-31"),
    posting("P16", "boern:7", "2025-09-02", 2_000, "4.9", "5.28.21", "OMK5102", "Egen", "2025-09-01"),
    posting("P17", "boern:7", "2025-09-20", -2_000, "4.9", "5.28.21", "OMK5102", "Egen", "2025-09-01"),
]


def commitment(cid, measure, unit, rate, start, end=None, funktion="5.28.20", cancelled=False):
    return dict(commitment_id=cid, source_system=measure.split(":")[0] if measure else "boern", from_date=start,
                to_date=end, rate=rate, rate_unit=unit, funktion=funktion, cancelled=cancelled, service_key=measure)


COMMITMENTS = [
    commitment("K1", "boern:1", "døgn", 3_000, "2025-01-01"),
    commitment("K2", "boern:2", "måned", 6_200, "2025-06-01", funktion="5.28.21"),
    commitment("K3", "voksen:5", "måned", 20_000, "2025-07-15", "2025-12-31", funktion="5.38.52"),
    commitment("K4", "boern:1", "engangs", 15_000, "2025-11-01", "2025-11-01"),
    commitment("K5", "boern:3", "døgn", 1_000, "2025-02-01", funktion="5.28.21"),
    commitment("K6", "boern:1", "døgn", 9_999, "2025-01-01", cancelled=True),
    commitment("K7", "boern:1", "engangs", 7_000, "2026-01-05", "2026-01-05"),
    commitment("K8", None, "døgn", 100, "2025-09-01", "2025-10-31", funktion="5.38.52"),
    commitment("K9", "voksen:6", "døgn", 1_000, "2020-01-01", funktion="5.38.50"),
]


def budget_lines():
    lines = []
    for month in range(1, 13):
        lines.append(("5.28.20", "OMK5101", month, 80_000, "Oprindeligt"))
        lines.append(("5.28.21", "OMK5102", month, 6_000, "Oprindeligt"))
        lines.append(("5.38.52", "OMK6501", month, 20_000, "Oprindeligt"))
    lines += [("5.28.20", "OMK5101", month, 90_000, "Korrigeret") for month in (7, 8, 9)]
    lines += [("5.38.52", "OMK6501", 9, 25_000, "Korrigeret"), ("5.38.52", "OMK6501", 9, 1_000, "Korrigeret")]
    lines.append(("5.28.20", "OMK5101", 7, 1_000_000, "Oprindeligt"))  # another year's line never counts ...
    return [dict(budget_id=f"b{i}", year=2025 if i < len(lines) - 1 else 2024, month=month, funktion=funktion,
                 unit_code=unit, amount=amount, version=version)
            for i, (funktion, unit, month, amount, version) in enumerate(lines)]


@pytest.fixture(scope="module")
def reference():
    accounts = read_accounts(REPO_ROOT / "reference" / "accounts.csv")
    refusion = read_refusion(REPO_ROOT / "reference" / "refusion.csv")
    return accounts.to_dict("records"), refusion.to_dict("records")


@pytest.fixture
def economy(make_model, reference):
    accounts, refusion = reference
    return make_model(extraction_date=dt.date(2025, 11, 15), dim_measure_link=LINKS, fact_posting=POSTINGS,
                      fact_commitment=COMMITMENTS, fact_budget=budget_lines(), ref_account=accounts,
                      ref_refusion=refusion)


@pytest.fixture
def q4_running():
    """2025-Q4 running on 2025-11-15 (provisional): 1 October - 15 November."""
    return quarter_periods(2025, 4, dt.date(2025, 11, 15))[0]


def value(pick, rows, measure, *args):
    return pick(rows, measure, *args)["value"]


# --- T6.01 ------------------------------------------------------------------------

def test_t601_expense_revenue_net_told_by_art(economy, q3_2025, pick):
    rows = compute_kpi("T6.01", economy, q3_2025)
    # expense: P1 + P2 + P3 (credit note) + P5 + P6 + P8 + P9 + P13 + P15 + P16 + P17; P4 is a copy
    expense = 93_000 + 93_000 - 10_000 + 6_200 + 6_200 + 4_000 + 34_000 + 1_000 + 2_500_000 + 2_000 - 2_000
    assert value(pick, rows, "expense") == pytest.approx(expense) == pytest.approx(2_727_400)
    assert value(pick, rows, "revenue") == pytest.approx(12_000 + 3_000)
    assert value(pick, rows, "net") == pytest.approx(2_712_400)
    # budget of July-September: 5.28.20 Korrigeret 3 x 90,000; 5.28.21 3 x 6,000; 5.38.52 20,000 x 2 + 26,000
    assert value(pick, rows, "budget") == pytest.approx(270_000 + 18_000 + 66_000)
    assert value(pick, rows, "deviation") == pytest.approx(2_712_400 - 354_000)
    share = pick(rows, "share_of_budget")
    assert (share["value"], share["numerator"], share["denominator"]) == pytest.approx(
        (2_712_400 / 354_000, 2_712_400, 354_000))
    assert value(pick, rows, "prior_year") == 0
    # the citizens behind the money: c1, c2, c3, c4 and c5; a budget rests on no person
    assert pick(rows, "net")["persons_behind"] == 5
    assert pick(rows, "budget")["persons_behind"] == 0  # a budget rests on no citizen
    assert pick(rows, "net")["unit"] == "dkk"


def test_t601_breakdowns(economy, q3_2025, pick):
    rows = compute_kpi("T6.01", economy, q3_2025)

    def net(dimension, label, org=("sof", "SOF")):
        return value(pick, rows, "net", *org, dimension, label)

    assert net("kategori", "Anbringelse") == pytest.approx(176_000 - 3_000)  # P1-P3 and the refund P11
    assert net("kategori", "Forebyggende") == pytest.approx(16_400)  # P5, P6, P8, P16, P17
    assert net("kategori", "Botilbud") == pytest.approx(34_000 - 12_000 + 2_500_000)
    assert net("kategori", "Ukendt") == pytest.approx(1_000)  # the unknown function
    assert net("function", "5.28.20") == pytest.approx(173_000)
    assert net("function", "Ukendt") == pytest.approx(1_000)
    assert value(pick, rows, "budget", "sof", "SOF", "kategori", "Anbringelse") == pytest.approx(270_000)
    assert value(pick, rows, "budget", "sof", "SOF", "kategori", "Ukendt") == 0
    assert pd.isna(value(pick, rows, "share_of_budget", "sof", "SOF", "kategori", "Ukendt"))
    # the type: the linked measure's, else the function's (P11 -> Opholdssted, P10 -> Midlertidigt botilbud)
    assert net("foranstaltningstype", "Opholdssted") == pytest.approx(173_000)
    assert net("foranstaltningstype", "Aflastning") == pytest.approx(4_000)  # the deleted measure's money
    assert net("foranstaltningstype", "Kontaktperson") == pytest.approx(12_400)
    assert net("foranstaltningstype", "Midlertidigt botilbud") == pytest.approx(22_000)
    assert net("foranstaltningstype", "Ukendt") == pytest.approx(1_000)
    for measure in ("budget", "deviation", "share_of_budget"):  # the budget has no type
        assert pd.isna(value(pick, rows, measure, "sof", "SOF", "foranstaltningstype", "Opholdssted"))
    # organisation: the finance unit (OMK5101 Nord, OMK5102 Øst, both center Nord)
    assert net(None, None, ("unit", "Familierådgivning Nord")) == pytest.approx(
        93_000 + 93_000 - 10_000 + 4_000 - 3_000 + 1_000)
    assert net(None, None, ("center", NORD)) == pytest.approx(178_000 + 12_400)
    assert value(pick, rows, "budget", "center", NORD) == pytest.approx(288_000)
    assert net(None, None, ("center", "Center for Botilbud")) == pytest.approx(2_522_000)


def test_t601_ytd_prior_year_is_last_years_december_paid_in_january(economy, ytd_q3_2025, pick):
    rows = compute_kpi("T6.01", economy, ytd_q3_2025)
    assert value(pick, rows, "net") == pytest.approx(2_712_400 + 5_000 + 90_000)  # + P7 and P14
    assert value(pick, rows, "prior_year") == pytest.approx(5_000)
    # the whole budget of January-September: 6 x 80,000 + 3 x 90,000; 9 x 6,000; 8 x 20,000 + 26,000
    assert value(pick, rows, "budget") == pytest.approx(750_000 + 54_000 + 186_000)


def test_t601_budget_pro_rata_in_a_running_quarter(economy, q4_running, pick):
    rows = compute_kpi("T6.01", economy, q4_running)
    # October whole, 15 of November's 30 days
    assert value(pick, rows, "budget") == pytest.approx(1.5 * (80_000 + 6_000 + 20_000))
    assert value(pick, rows, "net") == 0


# --- T6.02 ------------------------------------------------------------------------

def test_t602_prognosis_on_a_closed_quarter(economy, q3_2025, pick):
    rows = compute_kpi("T6.02", economy, q3_2025)
    booked = 2_712_400 + 5_000 + 90_000  # 1 January - 30 September
    committed = (92 * 3_000  # K1: 1 October - 31 December
                 + 0  # K2: capped at its measure's end, 31 August
                 + K3_Q3  # K3: capped at the measure's end, 10 December
                 + 15_000  # K4: engangs on 1 November, after E
                 + 0 + 0  # K5 deleted measure, K7 next year (K6 cancelled)
                 + 31 * 100  # K8: October, no measure to cap it
                 + 92 * 1_000)  # K9
    assert value(pick, rows, "prognosis") == pytest.approx(booked + committed)
    assert value(pick, rows, "prognosis") == pytest.approx(3_239_951.6129032258)
    # the year's budget: 5.28.20 9 x 80,000 + 3 x 90,000; 5.28.21 12 x 6,000; 5.38.52 11 x 20,000 + 26,000
    assert value(pick, rows, "budget_year") == pytest.approx(990_000 + 72_000 + 246_000)
    assert value(pick, rows, "deviation") == pytest.approx(booked + committed - 1_308_000)
    assert pick(rows, "prognosis")["persons_behind"] == 5
    # commitments take their case's unit: K8 reaches none (Ukendt)
    assert value(pick, rows, "prognosis", "unit", "Ukendt") == pytest.approx(3_100)
    assert value(pick, rows, "prognosis", "sof", "SOF", "kategori", "Anbringelse") == pytest.approx(
        90_000 + 173_000 + 276_000 + 15_000)
    assert pd.isna(value(pick, rows, "budget_year", "sof", "SOF", "foranstaltningstype", "Opholdssted"))


def test_t602_prognosis_on_a_running_date(economy, q4_running, pick):
    rows = compute_kpi("T6.02", economy, q4_running)
    booked = 2_807_400  # nothing booked since 30 September
    committed = 46 * 3_000 + K3_Q4 + 46 * 1_000  # 16 November - 31 December; K4 (1 Nov) and K8 are past
    assert value(pick, rows, "prognosis") == pytest.approx(booked + committed) == pytest.approx(3_007_851.6129032258)


def test_t602_is_a_stock(economy, ytd_q3_2025):
    with pytest.raises(ValueError, match="stock"):
        compute_kpi("T6.02", economy, ytd_q3_2025)


# --- T6.03 ------------------------------------------------------------------------

def test_t603_children_split_by_kategori(economy, q3_2025, pick):
    rows = compute_kpi("T6.03", economy, q3_2025)
    children = 173_000 + 16_400  # P13's unknown function is outside the children's area
    assert value(pick, rows, "net") == pytest.approx(children)
    share = pick(rows, "share_net", "sof", "SOF", "kategori", "Anbringelse")
    assert (share["value"], share["numerator"], share["denominator"]) == pytest.approx(
        (173_000 / children, 173_000, children))
    placements = 90_000 + 173_000 + 276_000 + 15_000  # booked this year + K1 + K4
    preventive = 5_000 + 16_400  # P7 is Forebyggende; K2 capped, K5 deleted
    assert value(pick, rows, "prognosis", "sof", "SOF", "kategori", "Anbringelse") == pytest.approx(placements)
    assert value(pick, rows, "share_prognosis", "sof", "SOF", "kategori", "Forebyggende") == pytest.approx(
        preventive / (placements + preventive))


def test_t603_prognosis_only_on_quarter_rows(economy, ytd_q3_2025):
    rows = compute_kpi("T6.03", economy, ytd_q3_2025)
    assert set(rows["measure"]) == {"net", "share_net"}


# --- T6.04 ------------------------------------------------------------------------

def test_t604_costliest_citizens_and_their_refund(economy, q3_2025, pick):
    rows = compute_kpi("T6.04", economy, q3_2025)
    c1 = 90_000 + 93_000 + 93_000 - 10_000 + 4_000 + 276_000 + 15_000
    c2, c3, c4 = 12_400, 34_000 + K3_Q3, 2_500_000 + 92_000
    # c5's money nets to 0: no cost. N = 4, ceil(4 x 10 / 100) = 1: c4
    assert value(pick, rows, "count") == 1
    assert value(pick, rows, "cost") == pytest.approx(c4)
    share = pick(rows, "share_of_total")
    assert (share["numerator"], share["denominator"]) == pytest.approx((c4, c1 + c2 + c3 + c4))
    # refusion.csv 2025: 25 % from 970,000 to 1,900,000, 50 % above
    assert value(pick, rows, "estimated_refund") == pytest.approx(0.25 * 930_000 + 0.5 * (c4 - 1_900_000))
    # area from the money's function, center from the case's unit
    assert value(pick, rows, "count", "area", "Voksne") == 1
    assert value(pick, rows, "count", "area", "Børn og Unge") == 0
    assert value(pick, rows, "cost", "center", SOCIAL) == pytest.approx(c4)
    assert value(pick, rows, "count", "sof", "SOF", "kategori", "Botilbud") == 1
    assert pick(rows, "cost")["persons_behind"] == 1


def test_t604_ranking_ties_ceil_and_percent(make_model, reference, q3_2025, pick):
    accounts, refusion = reference
    costs = {"a": 500.0, "b": 900.0, "c": 900.0, "d": 100.0, "e": 700.0, "f": 300.0, "g": 900.0, "h": -50.0}
    links = [link(f"boern:{i}", key, f"boern:{i}0", "BFC-NORD", "w", "Opholdssted", "2025-01-01")
             for i, key in enumerate(costs)]
    postings = [posting(f"P{i}", f"boern:{i}", "2025-09-01", cost, "4.9", "5.28.20", "OMK5101", "Egen")
                for i, cost in enumerate(costs.values())]
    model = make_model(dim_measure_link=links, fact_posting=postings, ref_account=accounts, ref_refusion=refusion)
    # 7 citizens with cost > 0 (h has none); ties at 900 broken by citizen key: b, c, g
    ten = compute_kpi("T6.04", model, q3_2025)
    assert value(pick, ten, "count") == 1 and value(pick, ten, "cost") == 900  # ceil(0.7) = 1: b
    fifteen = compute_kpi("T6.04", model, q3_2025, {"percent": 15})
    assert value(pick, fifteen, "count") == 2 and value(pick, fifteen, "cost") == 1_800  # ceil(1.05) = 2
    assert pick(fifteen, "share_of_total")["denominator"] == 500 + 900 * 3 + 100 + 700 + 300
    with pytest.raises(ValueError, match="percent"):
        compute_kpi("T6.04", model, q3_2025, {"percent": 20})


# --- T6.05 ------------------------------------------------------------------------

def test_t605_own_against_purchased(economy, q3_2025, pick):
    rows = compute_kpi("T6.05", economy, q3_2025)
    assert value(pick, rows, "expense") == pytest.approx(2_727_400)
    assert value(pick, rows, "expense", "sof", "SOF", "supplier_type", "Privat") == pytest.approx(176_000)
    assert value(pick, rows, "expense", "sof", "SOF", "supplier_type", "Egen") == pytest.approx(
        6_200 + 6_200 + 4_000 + 34_000 + 2_500_000)
    assert value(pick, rows, "expense", "sof", "SOF", "supplier_type", "Ukendt") == pytest.approx(1_000)
    assert value(pick, rows, "sold_places") == pytest.approx(12_000)
    assert value(pick, rows, "sold_places", "sof", "SOF", "supplier_type", "Egen") == pytest.approx(12_000)
    assert value(pick, rows, "sold_places", "sof", "SOF", "kategori", "Botilbud") == pytest.approx(12_000)
    assert rows[(rows["measure"] == "sold_places") & (rows["dimension_value"] == "Privat")].empty


# --- T6.06 ------------------------------------------------------------------------

def test_t606_per_caseworker(economy, q3_2025, pick):
    rows = compute_kpi("T6.06", economy, q3_2025)
    assert value(pick, rows, "net") == pytest.approx(2_726_400)  # money reaching a case
    assert value(pick, rows, "cases_with_cost") == 4  # boern:70's money nets to 0
    mean = pick(rows, "mean_net_per_case")
    assert (mean["value"], mean["numerator"], mean["denominator"]) == pytest.approx((681_600, 2_726_400, 4))
    assert value(pick, rows, "net", "caseworker", "w1") == pytest.approx(176_000 + 4_000)
    assert value(pick, rows, "net", "caseworker", "w2") == pytest.approx(2_534_000)
    assert value(pick, rows, "cases_with_cost", "caseworker", "w2") == 2
    assert value(pick, rows, "mean_net_per_case", "caseworker", "w2") == pytest.approx(1_267_000)
    assert value(pick, rows, "net", "caseworker", "Ukendt") == pytest.approx(12_400)  # case boern:20
    assert value(pick, rows, "cases_with_cost", "caseworker", "w3") == 0
    assert pd.isna(value(pick, rows, "mean_net_per_case", "caseworker", "w3"))
    assert value(pick, rows, "prognosis", "caseworker", "w2") == pytest.approx(34_000 + K3_Q3 + 2_592_000)
    assert value(pick, rows, "net", "center", SYD) == pytest.approx(12_400)
    assert value(pick, rows, "cases_with_cost", "sof", "SOF", "foranstaltningstype", "Aflastning") == 1


def test_t606_ytd_has_the_years_net_and_no_prognosis(economy, ytd_q3_2025, pick):
    rows = compute_kpi("T6.06", economy, ytd_q3_2025)
    assert value(pick, rows, "net") == pytest.approx(2_726_400 + 90_000)  # + P14; P7 reaches no case
    assert "prognosis" not in set(rows["measure"])


# --- T6.07 ------------------------------------------------------------------------

def test_t607_unit_cost_per_measure_day(economy, q3_2025, pick):
    rows = compute_kpi("T6.07", economy, q3_2025)
    # days in Q3: boern:1 92, boern:2 62 (to 31 Aug), voksen:5 78 (from 15 Jul), voksen:6 92, boern:7 20;
    # boern:3 is deleted and boern:8 has no start: never active
    days = 92 + 62 + 78 + 92 + 20
    cost = pick(rows, "unit_cost")
    assert (cost["numerator"], cost["denominator"]) == pytest.approx((2_726_400, days))
    assert cost["unit"] == "dkk_per_day"
    assert value(pick, rows, "unit_cost", "sof", "SOF", "foranstaltningstype", "Opholdssted") == pytest.approx(
        176_000 / 92)
    assert value(pick, rows, "unit_cost", "sof", "SOF", "foranstaltningstype", "Kontaktperson") == pytest.approx(
        12_400 / 82)
    assert pd.isna(value(pick, rows, "unit_cost", "sof", "SOF", "foranstaltningstype", "Aflastning"))
    assert value(pick, rows, "per_citizen") == pytest.approx(2_726_400 / 5)
    assert value(pick, rows, "per_citizen", "sof", "SOF", "foranstaltningstype", "Kontaktperson") == pytest.approx(
        12_400 / 2)
    # kategori through the measure's money: boern:3 (K5) and boern:7 (P17) are Forebyggende
    assert value(pick, rows, "unit_cost", "sof", "SOF", "kategori", "Forebyggende") == pytest.approx(16_400 / 82)
    assert value(pick, rows, "unit_cost", "sof", "SOF", "kategori", "Botilbud") == pytest.approx(2_534_000 / 170)


def test_an_empty_economy_has_its_totals(make_model, reference, q3_2025, pick):
    accounts, refusion = reference
    model = make_model(ref_account=accounts, ref_refusion=refusion)
    for kpi_id in ("T6.01", "T6.02", "T6.03", "T6.04", "T6.05", "T6.06", "T6.07"):
        rows = compute_kpi(kpi_id, model, q3_2025)
        assert (rows["org_level"] == "sof").any(), kpi_id
    assert value(pick, compute_kpi("T6.01", model, q3_2025), "net") == 0


# --- mart.case_cost -----------------------------------------------------------------

def test_case_cost_per_case_and_year(make_model, reference):
    """On 2025-11-15: booked so far, what commitments still cost from 16 November, active
    measures and the next deadline, per case; and the year before on 31 December."""
    accounts, refusion = reference
    model = make_model(
        extraction_date=dt.date(2025, 11, 15), dim_measure_link=LINKS, fact_posting=POSTINGS,
        fact_commitment=COMMITMENTS, fact_budget=budget_lines(), ref_account=accounts, ref_refusion=refusion,
        fact_plan=[
            dict(plan_id="p1", case_key="boern:10", plan_date="2025-03-01", next_followup_date="2025-09-01"),
            dict(plan_id="p2", case_key="boern:10", plan_date="2025-10-01", next_followup_date="2026-04-01"),
            dict(plan_id="p3", case_key="boern:20", plan_date="2025-12-01", next_followup_date="2026-01-01")],
        fact_investigation=[
            dict(investigation_id="i1", case_key="boern:10", start_date="2025-10-01", deadline_date="2026-02-01"),
            dict(investigation_id="i2", case_key="boern:20", start_date="2025-05-01", deadline_date="2025-09-01",
                 completed_date="2025-08-15")])
    cost = case_cost(model).set_index(["year", "case_key"])
    # boern:70's money nets to 0 and its measures have ended (or never started): no row
    assert sorted(cost.index) == [(2024, "pvoksen:60"), (2025, "pboern:10"), (2025, "pboern:20"),
                                  (2025, "pvoksen:50"), (2025, "pvoksen:60")]
    c10 = cost.loc[(2025, "pboern:10")]
    assert c10["net_ytd"] == pytest.approx(90_000 + 93_000 + 93_000 - 10_000 + 4_000)
    assert c10["committed_remainder"] == pytest.approx(46 * 3_000)  # K4 is past; K5's measure is deleted
    assert c10["prognosis"] == pytest.approx(270_000 + 138_000)
    assert c10["active_measures"] == 1  # boern:3 is soft-deleted
    assert (c10["kategori"], c10["citizen_key"], c10["caseworker_key"]) == ("Anbringelse", "c1", "w1")
    assert (c10["unit"], c10["center"], c10["source"]) == ("Familierådgivning Nord", NORD, "boern")
    assert (c10["next_deadline"], c10["next_deadline_kind"]) == (pd.Timestamp("2026-02-01"), "investigation")
    c20 = cost.loc[(2025, "pboern:20")]
    assert (c20["net_ytd"], c20["committed_remainder"], c20["active_measures"]) == (12_400, 0, 0)
    assert pd.isna(c20["next_deadline"]) and pd.isna(c20["caseworker_key"])
    assert cost.loc[(2025, "pvoksen:50"), "prognosis"] == pytest.approx(34_000 + K3_Q4)
    assert cost.loc[(2025, "pvoksen:60"), "kategori"] == "Botilbud"
    last_year = cost.loc[(2024, "pvoksen:60")]
    assert (last_year["prognosis"], last_year["active_measures"], last_year["kategori"]) == (0, 1, "Ukendt")
    assert last_year["status_date"] == pd.Timestamp("2024-12-31")
    assert list(case_cost(model).columns) == [c for c in CASE_COST.column_names if c not in ("run_id", "computed_at")]


@pytest.mark.parametrize("seed", range(5))
def test_a_measures_function_is_that_of_its_latest_row_as_pandas_sorts_it(seed):
    """`set_latest` (each measure's function, T6.07's kategori) against pandas' stable sort and
    keep-last: ties on a date, rows without a date, rows left out and rows reaching no measure."""
    rng = np.random.default_rng(seed)
    n = 400
    dates = np.datetime64("2025-01-01") + rng.integers(0, 20, n).astype("timedelta64[D]")
    dates[rng.random(n) < 0.1] = np.datetime64("NaT")
    frame = pd.DataFrame({"m": rng.integers(-1, 30, n), "fn": rng.integers(0, 9, n), "date": dates,
                          "kept": rng.random(n) < 0.7})
    expected = np.full(35, -5)
    latest = frame[frame["kept"] & (frame["m"] >= 0)].sort_values("date", kind="stable").drop_duplicates("m", keep="last")
    expected[latest["m"].to_numpy()] = latest["fn"].to_numpy()
    got = np.full(35, -5)
    theme6.set_latest(got, frame["m"].to_numpy(), frame["fn"].to_numpy(), frame["date"].to_numpy(),
                      frame["kept"].to_numpy())
    assert got.tolist() == expected.tolist()
