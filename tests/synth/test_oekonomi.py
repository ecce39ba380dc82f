"""The generated economy (source 8, `oekonomi`): money follows the generated measures.

Everything is read back from the written databases and recomputed here by hand from the
contract (economy.md) and the case systems' own rows: references resolve, tariffs times
days give the postings, December is paid in January, budgets sit near the spend,
refunds follow refusion.csv, and every planted defect is counted exactly — the numbers
the data-quality rules DQ08 and DQ15-DQ19 will be held to. Runs on the `demo` profile
(extraction 2025-10-01) and its clean twin (conftest.py).
"""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from etl.core.settings import REPO_ROOT
from etl.synth import DEFAULT_EXTRACTION_DATE
from etl.synth.context import Context
from etl.synth.draw import stream
from etl.synth.oekonomi import Oekonomi
from etl.synth.population import PersonRegistry
from etl.synth.profiles import PROFILES
from etl.synth.quirks import QuirkPlanter
from etl.synth.reference import Reference
from etl.synth.timeline import Window

E = pd.Timestamp(DEFAULT_EXTRACTION_DATE)
YEAR_START = pd.Timestamp(E.year, 1, 1)
ECONOMY_QUIRKS = ("posting_missing_reference", "posting_reference_formatting", "posting_credit_note",
                  "posting_december_in_january", "posting_duplicate_voucher", "commitment_open_after_end",
                  "measure_without_economy", "unknown_function", "budget_missing")
DQ18_KEY = ["bilag", "beloeb", "funktion", "kilde_system", "ref"]


def read(out: Path, source: str, table: str) -> pd.DataFrame:
    with sqlite3.connect(out / f"{source}.db") as conn:
        return pd.read_sql(f"SELECT * FROM {table}", conn)


def normalised(references: pd.Series) -> pd.Series:
    """economy.md: trimmed, a leading letter prefix with `-` removed, leading zeros removed."""
    return references.str.strip().str.replace(r"^[A-Za-z]+-", "", regex=True).str.lstrip("0")


def accounts() -> pd.DataFrame:
    return pd.read_csv(REPO_ROOT / "reference" / "accounts.csv", dtype=str, keep_default_na=False)


class Books:
    """One generated run's economy and the case systems' measures, with the derived columns
    the checks need (all computed here, not by the generator)."""

    def __init__(self, out: Path, report: dict) -> None:
        self.report = report
        self.postings = read(out, "oekonomi", "postering")
        self.budget = read(out, "oekonomi", "budget")
        self.commitments = read(out, "oekonomi", "disponering")
        p = self.postings
        p["ref"] = normalised(p["foranstaltning_ref"])
        for column in ("bogfoert_dato", "periode_fra", "periode_til"):
            p[column] = pd.to_datetime(p[column])
        # DQ18: every copy after the lowest postering_id of a key is a duplicate
        p["copy"] = p.sort_values("postering_id").fillna({"ref": "", "kilde_system": ""}).duplicated(DQ18_KEY)
        self.commitments["ref"] = normalised(self.commitments["foranstaltning_ref"])
        boern, sag = read(out, "boern", "Foranstaltning"), read(out, "boern", "Sag")
        ydelse, vsag = read(out, "voksen", "ydelse"), read(out, "voksen", "sag")
        self.boern, self.ydelse = boern, ydelse
        self.measures = pd.concat([
            self._measures("boern", boern, sag, "ForanstaltningId", "SagId", "StartDato", "SlutDato", "Slettet",
                           "LukketDato", boern["Type"], boern["Leverandoer"]),
            self._measures("voksen", ydelse, vsag, "ydelse_id", "sag_id", "start_dato", "slut_dato", "slettet",
                           "lukket", ydelse["ydelsestype"], None),
        ], ignore_index=True)

    @staticmethod
    def _measures(system, rows, cases, mid, cid, start, end, deleted, closed, kind, supplier) -> pd.DataFrame:
        deleted_case = rows[cid].isin(cases.loc[cases[deleted].astype(bool), cid])
        case_closed = pd.to_datetime(rows[cid].map(cases.set_index(cid)[closed]))
        end_date = pd.to_datetime(rows[end])
        return pd.DataFrame({
            "system": system, "ref": rows[mid].astype(str), "start": pd.to_datetime(rows[start]), "end": end_date,
            "ended": pd.concat([end_date, case_closed], axis=1).min(axis=1),  # DQ17: the earlier of the two
            "deleted": rows[deleted].astype(bool) | deleted_case, "type": kind, "supplier": supplier,
        })

    def recount(self) -> dict[str, int]:
        """Every economy quirk counted from the written rows alone."""
        p, c, b, m = self.postings, self.commitments, self.budget, self.measures
        account = accounts()
        case_functions = set(account.loc[account["kraever_foranstaltning"] == "1", "funktion"])
        expense = p["art"].str.startswith("4")
        live = c[~c["annulleret"].astype(bool)].merge(m.rename(columns={"system": "kilde_system"}),
                                                      on=["kilde_system", "ref"], how="left")
        referred = set(zip(p["kilde_system"], p["ref"])) | set(zip(c["kilde_system"], c["ref"]))
        active = ((m["start"] <= E - pd.Timedelta(days=60)) & (m["end"].isna() | (m["end"] >= E)) & ~m["deleted"])
        current = p[(p["bogfoert_dato"] >= YEAR_START) & (p["bogfoert_dato"] < E) & expense]
        spend = current.groupby(["funktion", "enhed_kode"])["beloeb"].sum()
        budgeted = set(zip(*b.loc[b["aar"] == E.year, ["funktion", "enhed_kode"]].T.to_numpy()))
        return {
            "posting_missing_reference": int((expense & p["funktion"].isin(case_functions)
                                              & p["foranstaltning_ref"].isna() & ~p["copy"]).sum()),
            "posting_reference_formatting": int((p["foranstaltning_ref"].dropna() != p["ref"].dropna()).sum()
                                                + (c["foranstaltning_ref"] != c["ref"]).sum()),
            "posting_credit_note": int((expense & (p["beloeb"] < 0)).sum()),
            "posting_december_in_january": int(((p["periode_til"].dt.month == 12)
                                                & (p["bogfoert_dato"].dt.year == p["periode_til"].dt.year + 1)
                                                & ~p["copy"]).sum()),
            "posting_duplicate_voucher": int(p["copy"].sum()),
            "commitment_open_after_end": int((live["til_dato"].isna() & (live["ended"] < E)).sum()),
            "measure_without_economy": int((active & ~pd.Series(list(zip(m["system"], m["ref"]))).isin(referred)).sum()),
            "unknown_function": int((~p["funktion"].isin(set(account["funktion"]))).sum()
                                    + (~b["funktion"].isin(set(account["funktion"]))).sum()),
            "budget_missing": int(sum(pair not in budgeted for pair in spend[spend > 0].index)),
        }


@pytest.fixture(scope="module")
def books(demo) -> Books:
    return Books(*demo)


@pytest.fixture(scope="module")
def clean_books(clean) -> Books:
    return Books(*clean)


def test_every_reference_names_an_existing_measure_in_its_system(books, clean_books):
    for run in (books, clean_books):
        known = set(zip(run.measures["system"], run.measures["ref"]))
        linked = run.postings.dropna(subset=["foranstaltning_ref"])
        assert linked["kilde_system"].notna().all()
        assert set(zip(linked["kilde_system"], linked["ref"])) <= known
        assert set(zip(run.commitments["kilde_system"], run.commitments["ref"])) <= known
    # without defects a reference is written exactly as the case system's id
    clean = clean_books.postings
    assert (clean["foranstaltning_ref"].dropna() == clean["ref"].dropna()).all()
    case_functions = accounts().query("kraever_foranstaltning == '1'")["funktion"]
    assert clean.loc[clean["art"].str.startswith("4") & clean["funktion"].isin(case_functions),
                     "foranstaltning_ref"].notna().all()


def test_planted_economy_defects_equal_what_the_data_shows(books, clean_books):
    planted = {q: books.report["planted"][q]["count"] for q in ECONOMY_QUIRKS}
    assert books.recount() == planted
    assert all(count > 0 for count in planted.values()), planted
    assert clean_books.recount() == dict.fromkeys(ECONOMY_QUIRKS, 0)
    assert {q: clean_books.report["planted"][q]["count"] for q in ECONOMY_QUIRKS} == dict.fromkeys(ECONOMY_QUIRKS, 0)
    per_table = books.report["planted"]
    assert per_table["measure_without_economy"]["tables"].keys() == {"boern.Foranstaltning", "voksen.ydelse"}
    assert per_table["posting_reference_formatting"]["tables"].keys() == {"oekonomi.postering", "oekonomi.disponering"}


def test_the_expected_findings_are_exactly_the_failing_records(books):
    """The report names the records DQ08 and DQ15-DQ19 must find; each list recomputed by the rule's text."""
    p, c, b, m = books.postings, books.commitments, books.budget, books.measures
    expected = books.report["oekonomi"]["expected_findings"]
    account = accounts()
    case_functions = set(account.loc[account["kraever_foranstaltning"] == "1", "funktion"])
    known = set(zip(m["system"], m["ref"]))
    # DQ15: expense postings on case functions, copies left out, without a reference that resolves
    population = p[p["art"].str.startswith("4") & p["funktion"].isin(case_functions) & ~p["copy"]]
    resolves = pd.Series([pair in known for pair in zip(population["kilde_system"], population["ref"])],
                         index=population.index)
    assert sorted(population.loc[~resolves, "postering_id"]) == expected["DQ15"]["postering_id"]
    # DQ16, per case system: active on E, started 60+ days before, with neither posting nor commitment
    referred = set(zip(p["kilde_system"], p["ref"])) | set(zip(c["kilde_system"], c["ref"]))
    for system in ("boern", "voksen"):
        rows = m[(m["system"] == system) & (m["start"] <= E - pd.Timedelta(days=60))
                 & (m["end"].isna() | (m["end"] >= E)) & ~m["deleted"]]
        failing = [int(r) for s, r in zip(rows["system"], rows["ref"]) if (s, r) not in referred]
        assert sorted(failing) == expected["DQ16"][system]
    # DQ17: commitments not cancelled whose measure ended before E (or is deleted) open or ending after it
    live = c[~c["annulleret"].astype(bool)].merge(m.rename(columns={"system": "kilde_system"}),
                                                  on=["kilde_system", "ref"])
    til = pd.to_datetime(live["til_dato"])
    in_population = (live["ended"] < E) | live["deleted"]
    failing = live.loc[in_population & (til.isna() | (til > live["ended"])), "disponering_id"]
    assert sorted(failing) == expected["DQ17"]["disponering_id"]
    # DQ18: the copies; DQ08: postings on a function the account plan does not know
    assert sorted(p.loc[p["copy"], "postering_id"]) == expected["DQ18"]["postering_id"]
    assert sorted(p.loc[~p["funktion"].isin(set(account["funktion"])), "postering_id"]) == expected["DQ08"]["postering_id"]
    # DQ19: function x unit pairs with expense this year and no budget line of the year
    current = p[(p["bogfoert_dato"] >= YEAR_START) & p["art"].str.startswith("4")]
    spend = current.groupby(["funktion", "enhed_kode"])["beloeb"].sum()
    budgeted = set(zip(b.loc[b["aar"] == E.year, "funktion"], b.loc[b["aar"] == E.year, "enhed_kode"]))
    assert sorted([list(k) for k in spend[spend > 0].index if k not in budgeted]) == expected["DQ19"]["pairs"]
    assert expected["DQ19"]["aar"] == E.year


def test_services_are_paid_the_month_after_and_december_in_january(books, clean_books):
    for run in (books, clean_books):
        p = run.postings
        assert (p["bogfoert_dato"] < E).all() and (p["bogfoert_dato"] >= pd.Timestamp("2019-01-01")).all()
    p = clean_books.postings.dropna(subset=["periode_til"])
    december = p["periode_til"].dt.month == 12
    following = p["periode_til"].dt.to_period("M") + 1
    lag = p[~december]
    assert (lag["bogfoert_dato"].dt.to_period("M") == following[~december]).all()
    assert lag["bogfoert_dato"].dt.day.between(3, 21).all()
    # clean: December's services are booked on the last days of December, never in January
    assert (p.loc[december, "bogfoert_dato"].dt.month == 12).all()
    assert p.loc[december, "bogfoert_dato"].dt.day.between(28, 31).all()
    # with the default rate, 90 % of them slip into January
    d = books.postings[(books.postings["periode_til"].dt.month == 12) & ~books.postings["copy"]]
    january = d["bogfoert_dato"].dt.year == d["periode_til"].dt.year + 1
    assert int(january.sum()) == books.report["planted"]["posting_december_in_january"]["count"]
    assert 0.85 < january.mean() < 0.95
    assert d.loc[~january, "bogfoert_dato"].dt.day.between(28, 31).all()


def _linked(run: Books) -> pd.DataFrame:
    """Measure postings (positive expense with a reference) joined to their measure, with the days paid."""
    p = run.postings
    paid = p[p["art"].isin(["4.6", "4.9"]) & p["ref"].notna() & (p["beloeb"] > 0)]
    paid = paid.merge(run.measures.rename(columns={"system": "kilde_system"}), on=["kilde_system", "ref"])
    return paid.assign(days=(paid["periode_til"] - paid["periode_fra"]).dt.days + 1)


def test_placements_cost_far_more_per_day_than_preventive_measures(clean_books):
    paid = _linked(clean_books)
    kategori = paid["ref"].map(clean_books.boern.assign(ref=clean_books.boern["ForanstaltningId"].astype(str))
                               .set_index("ref")["Kategori"]).where(paid["kilde_system"] == "boern")
    totals = paid.groupby(kategori)[["beloeb", "days"]].sum()
    per_day = totals["beloeb"] / totals["days"]
    assert per_day["Anbringelse"] > 1_800 and 300 < per_day["Forebyggende"] < 700
    assert per_day["Anbringelse"] > 3 * per_day["Forebyggende"]


def test_purchased_places_cost_more_than_own(clean_books):
    """Per day-tariff commitment, log(takst) against its type's mean: Privat +log 1.30, Anden kommune
    +log 1.15 against Egen (the mark-ups), within the noise of the drawn tariffs."""
    c = clean_books.commitments
    daily = c[(c["takst_enhed"] == "døgn") & ~c["annulleret"].astype(bool) & (c["kilde_system"] == "boern")]
    daily = daily.merge(clean_books.measures.rename(columns={"system": "kilde_system"}), on=["kilde_system", "ref"])
    log_takst = np.log(daily["takst"])
    relative = log_takst - log_takst.groupby(daily["type"]).transform("mean")
    by_supplier = relative.groupby(daily["supplier"]).mean()
    assert by_supplier["Egen"] < by_supplier["Anden kommune"] < by_supplier["Privat"]
    assert 0.15 < by_supplier["Privat"] - by_supplier["Egen"] < 0.4  # log(1.30) = 0.26


def test_postings_are_the_commitments_tariff_times_the_days(clean_books):
    """This year, an open measure's posting is its commitment's takst × days (per day), or
    takst × the share of the month's days (per month), to the øre."""
    c = clean_books.commitments
    open_ = c[c["til_dato"].isna() & ~c["annulleret"].astype(bool) & c["takst_enhed"].isin(["døgn", "måned"])]
    p = clean_books.postings
    this_year = p[(p["periode_til"] >= YEAR_START) & p["art"].isin(["4.6", "4.9"]) & p["ref"].notna()]
    joined = this_year.merge(open_[["kilde_system", "ref", "takst", "takst_enhed"]], on=["kilde_system", "ref"])
    days = (joined["periode_til"] - joined["periode_fra"]).dt.days + 1
    month_days = joined["periode_fra"].dt.days_in_month
    want = np.where(joined["takst_enhed"] == "døgn", joined["takst"] * days, joined["takst"] * days / month_days)
    assert len(joined) > 1_000
    assert np.abs(joined["beloeb"] - np.round(want, 2)).max() < 0.006


def test_budget_is_near_the_years_spend(books, clean_books):
    """The band: each function × unit's original budget for a year is its booked net for the year
    ±7 % (annualised for the first and the current year), a corrected one ±2 %; over SOF a whole
    year's original budget is within ±5 % of its net spend even with every defect planted."""
    for run, band in ((clean_books, 0.0705), (books, None)):
        p, b = run.postings, run.budget
        money = p[p["art"].str[0].isin(["4", "7", "8"])]
        net = money.groupby([money["bogfoert_dato"].dt.year, "funktion", "enhed_kode"])["beloeb"].sum()
        net.index.names = ["aar", "funktion", "enhed_kode"]
        for version, noise in (("Oprindeligt", band), ("Korrigeret", 0.0205)):
            lines = b[b["version"] == version]
            assert (lines.groupby(["aar", "funktion", "enhed_kode"]).size() == 12).all()
            if band is None:
                continue
            yearly = lines.groupby(["aar", "funktion", "enhed_kode"])["beloeb"].sum()
            years = yearly.index.get_level_values("aar")
            days_booked = np.array([((min(pd.Timestamp(y + 1, 1, 1), E) - max(pd.Timestamp(y, 1, 1),
                                     pd.Timestamp("2019-01-01"))).days) for y in years])
            days_in_year = np.array([366 if pd.Timestamp(y, 1, 1).is_leap_year else 365 for y in years])
            annual = net.reindex(yearly.index).to_numpy() * days_in_year / days_booked
            ratio = yearly.to_numpy() / annual
            assert np.all(np.abs(ratio - 1) <= noise), (version, ratio.min(), ratio.max())
    p, b = books.postings, books.budget
    money = p[p["art"].str[0].isin(["4", "7", "8"])]
    net = money.groupby(money["bogfoert_dato"].dt.year)["beloeb"].sum()
    original = b[b["version"] == "Oprindeligt"].groupby("aar")["beloeb"].sum()
    whole_years = range(2019, E.year)
    assert (np.abs(original[whole_years] / net[whole_years] - 1) < 0.05).all()
    corrected = b[b["version"] == "Korrigeret"]
    assert 0.15 < len(corrected) / len(b[b["version"] == "Oprindeligt"]) < 0.35
    revised = pd.to_datetime(corrected["opdateret"])
    assert (revised.dt.year == corrected["aar"]).all() and (revised.dt.month >= 6).all() and (revised < E).all()


def _refund(cost: float, row: pd.Series) -> float:
    return (row["sats_1"] * max(0.0, min(cost, row["graense_2"]) - row["graense_1"])
            + row["sats_2"] * max(0.0, cost - row["graense_2"]))


def test_refunds_follow_the_refusion_thresholds_per_person_and_year(clean, clean_books):
    """Each whole year's refunds (art 8.6, by service period) are the refusion.csv refund of every
    person's yearly cost, persons found through measure -> case -> CPR."""
    out, _ = clean
    barn, sag, borger, vsag = (read(out, "boern", "Barn"), read(out, "boern", "Sag"),
                               read(out, "voksen", "borger"), read(out, "voksen", "sag"))
    cpr_of_case = pd.concat([
        sag.set_index("SagId")["BarnId"].map(barn.set_index("BarnId")["CPR"]).rename(lambda i: f"boern:{i}"),
        vsag.set_index("sag_id")["borger_id"].map(borger.set_index("borger_id")["cpr"]).rename(lambda i: f"voksen:{i}"),
    ]).str.replace(r"\D", "", regex=True)
    case_of_measure = pd.concat([
        clean_books.boern.set_index(clean_books.boern["ForanstaltningId"].astype(str).radd("boern:"))["SagId"]
        .map(lambda i: f"boern:{i}"),
        clean_books.ydelse.set_index(clean_books.ydelse["ydelse_id"].astype(str).radd("voksen:"))["sag_id"]
        .map(lambda i: f"voksen:{i}"),
    ])
    p = clean_books.postings
    cost = p[p["art"].str.startswith("4") & p["ref"].notna()].copy()
    cost["person"] = (cost["kilde_system"] + ":" + cost["ref"]).map(case_of_measure).map(cpr_of_case)
    assert cost["person"].notna().all()
    yearly = cost.groupby([cost["periode_til"].dt.year, "person"])["beloeb"].sum()
    refusion = pd.read_csv(REPO_ROOT / "reference" / "refusion.csv").set_index("aar")
    refunds = p[p["art"] == "8.6"]
    booked = -refunds.groupby(refunds["periode_til"].dt.year)["beloeb"].sum()
    for year in range(2019, E.year):
        want = sum(_refund(c, refusion.loc[year]) for c in yearly.loc[year])
        assert want > 0
        assert booked[year] == pytest.approx(want, abs=0.01 * len(refunds))
    assert (refunds["beloeb"] < 0).all() and refunds["foranstaltning_ref"].isna().all()
    quarter_ends = refunds["periode_til"]
    assert (quarter_ends.dt.is_quarter_end & (refunds["periode_fra"] == quarter_ends - pd.offsets.QuarterBegin(
        startingMonth=1))).all()


def test_revenue_shelters_and_other_arts(clean_books):
    p = clean_books.postings
    unlinked = p["foranstaltning_ref"].isna()
    sales = p[p["art"] == "7.1"]
    assert len(sales) > 0 and (sales["beloeb"] < 0).all() and sales["foranstaltning_ref"].isna().all()
    assert set(sales["enhed_kode"]) == {"OMK5201", "OMK6501", "OMK6502", "OMK6503"}  # own institutions
    assert sales["kreditor_type"].isna().all()
    shelters = p[p["funktion"] == "5.38.42"]
    assert set(shelters["art"]) >= {"4.9"} and shelters.loc[shelters["art"] == "4.9", "kreditor_type"].eq("Privat").all()
    assert shelters["foranstaltning_ref"].isna().all()
    other = p[~p["art"].str[0].isin(["4", "7", "8"])]
    assert set(other["art"]) == {"1.1", "2.2", "9.4"} and other["periode_til"].isna().all()
    assert 0.01 < len(other) / len(p) < 0.03
    assert unlinked.sum() == len(sales) + len(other) + len(shelters[shelters["art"] == "4.9"]) + (p["art"] == "8.6").sum()
    assert set(p["enhed_kode"]) <= set(pd.read_csv(REPO_ROOT / "reference" / "organisation.csv")
                                       .query("system == 'oekonomi'")["unit_code"])
    assert set(p["funktion"]) <= set(accounts()["funktion"])


def test_commitments_mirror_the_measures_as_the_case_systems_hold_them(books, clean_books):
    c, m = clean_books.commitments, clean_books.measures
    own = c[c["takst_enhed"].isin(["døgn", "måned"]) & ~c["annulleret"].astype(bool)]
    assert not own.duplicated(["kilde_system", "ref"]).any()
    joined = own.merge(m.rename(columns={"system": "kilde_system"}), on=["kilde_system", "ref"], validate="one_to_one")
    assert len(joined) == len(m)  # every measure has exactly one
    assert (pd.to_datetime(joined["fra_dato"]) == joined["start"]).all()
    til = pd.to_datetime(joined["til_dato"])
    assert ((til == joined["end"]) | (til.isna() & joined["end"].isna())).all()
    once = c[c["takst_enhed"] == "engangs"]
    assert len(once) > 0 and (once["fra_dato"] == once["til_dato"]).all()
    twins = c[c["annulleret"].astype(bool)]
    assert len(twins) > 0 and set(zip(twins["kilde_system"], twins["ref"])) <= set(zip(own["kilde_system"], own["ref"]))
    # with defects: a deleted measure's commitments are cancelled (the payment module follows the case system)
    deleted = books.measures[books.measures["deleted"]]
    mine = books.commitments.merge(deleted.rename(columns={"system": "kilde_system"}), on=["kilde_system", "ref"])
    assert len(mine) > 0 and mine["annulleret"].astype(bool).all()


def test_postings_are_generated_a_year_at_a_time_in_id_order():
    """The writer gets one chunk per calendar year of service months, ids running on, so the
    national profile's postings never sit in memory at once."""

    profile = PROFILES["demo"]
    ctx = Context(profile, Window.of(date(2023, 1, 1), date(2025, 3, 1)), Reference.load(),
                  PersonRegistry(stream(1, "persons")), 1)
    measures = pd.DataFrame({
        "system": ["boern", "voksen"], "measure_id": [1, 2], "person_id": [0, 1], "case_unit": ["BFC-NORD", "CRM-01"],
        "kategori": ["Anbringelse", "SEL101"], "type": ["Opholdssted", "Ambulant behandling"],
        "start": np.array(["2022-06-01", "2024-02-15"], dtype="datetime64[D]"),
        "end": np.array(["NaT", "2024-03-31"], dtype="datetime64[D]"), "supplier": ["Privat", None],
        "tilbud_id": [-1, -1], "_base": [3_000.0, 5_000.0], "_daily": [True, False], "_art": ["4.9", "4.9"],
        "_function": ["5.28.20", "5.38.45"], "_finance_unit": ["OMK5101", "OMK6301"], "_supplier": ["Privat", "Egen"],
        "_ref": ["1", "2"], "_one_off": [0.0, 0.0],
    })
    measures["_end_or_max"] = measures["end"].fillna(pd.Timestamp("2262-01-01")).to_numpy().astype("datetime64[D]")
    facilities = pd.DataFrame({"tilbudstype": ["Herberg §110"], "unit": ["TIL-HERB"], "pladser": [0],
                               "aktiv_fra": np.array(["2010-01-01"], dtype="datetime64[D]"),
                               "aktiv_til": np.array(["NaT"], dtype="datetime64[D]"), "_sells": [False],
                               "_shelter": [False], "_own": [False], "_function": ["5.38.42"], "_sale_low": [0.0],
                               "_sale_high": [0.0], "_finance_unit": ["OMK6401"]})
    rates = dict.fromkeys(ctx.profile.rates(), 0.0)
    economy = Oekonomi(ctx, QuirkPlanter(rates, 1), measures, facilities, pd.DataFrame())
    chunks = list(economy.postings())
    # service months Dec 2022 .. Mar 2025: one chunk per year 2022-2025 (Dec 2022 is booked in 2022: dropped)
    years = [sorted(set(c["periode_til"].dropna().dt.year)) for c in chunks]
    assert years == [[2023], [2024], [2025]]
    ids = np.concatenate([c["postering_id"].to_numpy() for c in chunks])
    assert (ids == np.arange(1, len(ids) + 1)).all()
    postings = pd.concat(chunks)
    placement = postings[postings["foranstaltning_ref"] == "1"]
    # 3,000/day at 2025 prices, 2 % cheaper a year earlier; paid every month Jan 2023 - Jan 2025
    january_2024 = placement[pd.to_datetime(placement["periode_fra"]) == pd.Timestamp("2024-01-01")]
    assert january_2024["beloeb"].tolist() == [round(3_000 / 1.02) * 31]
    assert len(placement) == 25  # Jan 2023 .. Jan 2025: February's services are booked from 3 March
    treatment = postings[postings["foranstaltning_ref"] == "2"].sort_values("periode_fra")
    # a month tariff pro rata by days: 15-29 February 2024 (15 of 29 days), all of March
    assert treatment["beloeb"].tolist() == [round(round(5_000 / 1.02) * 15 / 29, 2), round(5_000 / 1.02)]
