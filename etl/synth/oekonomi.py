"""`oekonomi`: postings, budget and commitments, consistent with the case systems.

Money follows activity. Every measure (`boern.Foranstaltning`) and service
(`voksen.ydelse`) is paid for every month it is active, at a tariff per type (per day or
per month pro rata by days; purchased places dearer than the municipality's own; indexed
2 % a year), booked on the function `accounts.csv` gives its type and on the finance unit
of its case's unit, in the first weeks of the following month. Around the measures: a
one-off payment at the start of some placements, sale of places at the municipality's own
facilities (art 7.1), the operators of the §§ 109-110 shelters (a function without
measures), the state refund for the costliest persons each quarter (art 8.6), and a small
share of other arts (salaries, goods, internal charges) that no money figure counts.
Budgets per function, finance unit and month are set near each year's spend, with a
corrected version for some lines; every granted measure has a commitment that ends where
the case system says the measure ends.

Payments follow the measures as the case systems held them before their own defects were
planted (`snapshot_measures`): money pays for the service that really happened. The
commitments copy the case system's dates as written (the payment modules are part of the
case systems), a deleted measure's commitment is cancelled, and so the case systems'
defects never surface as economy defects: every economy defect is one planted here,
counted exactly by the `QuirkPlanter`, and the records each data-quality rule (DQ08,
DQ15-DQ19) must find are listed in `Oekonomi.expected`.

Postings are generated service month by service month, each month from its own random
stream, and handed to the writer as they are made: memory is bounded by a month rather
than the table (the national profile has tens of millions of postings), and the output is
the same however the months are grouped into writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etl.core.reference import estimated_refund
from etl.core.vocabulary import (
    ALMEN_BOLIG,
    ANBRINGELSE,
    LAENGEREVARENDE_BOTILBUD,
    MIDLERTIDIGT_BOTILBUD,
    PREVENTIVE_TYPES,
    SHELTERS_AND_NATCAFE,
)
from etl.synth.context import Context
from etl.synth.draw import choose, explode
from etl.synth.quirks import QuirkPlanter, Tables
from etl.synth.timeline import DAY, NAT_DAY, change_timestamps, year_of
from etl.synth.voksen import SERVICE_TYPES

POSTINGS, BUDGET, COMMITMENTS = "oekonomi.postering", "oekonomi.budget", "oekonomi.disponering"
SYSTEM_TABLES = {"boern": "boern.Foranstaltning", "voksen": "voksen.ydelse"}

#: Tariff of each measure type: (takst_enhed, low, high) in DKK at the extraction year's
#: prices, before the supplier's mark-up. Placements cost thousands a day, preventive
#: measures a few hundred a day (month tariffs / ~30).
TARIFFS: dict[tuple[str, str], tuple[str, float, float]] = {
    ("boern", "Opholdssted"): ("døgn", 2_000, 4_000),
    ("boern", "Døgninstitution"): ("døgn", 2_500, 4_500),
    ("boern", "Plejefamilie"): ("døgn", 800, 1_500),
    ("boern", "Kommunal plejefamilie"): ("døgn", 1_200, 2_000),
    ("boern", "Netværksplejefamilie"): ("døgn", 250, 500),
    ("boern", "Eget værelse"): ("døgn", 400, 900),
    ("boern", "Kostskole/efterskole"): ("døgn", 500, 1_000),
    ("boern", "Familiebehandling"): ("måned", 10_000, 20_000),
    ("boern", "Aflastning"): ("måned", 8_000, 18_000),
    ("boern", "Kontaktperson"): ("måned", 4_000, 9_000),
    ("boern", "Praktisk pædagogisk støtte"): ("måned", 5_000, 10_000),
    ("boern", "Døgnophold for familien"): ("døgn", 2_500, 4_000),
    ("boern", "Netværksgruppe"): ("måned", 2_000, 4_000),
    ("voksen", "Længerevarende botilbud"): ("døgn", 1_800, 3_500),
    ("voksen", "Midlertidigt botilbud"): ("døgn", 1_500, 3_000),
    ("voksen", "Almen bolig med støtte"): ("måned", 12_000, 25_000),
    ("voksen", "Socialpædagogisk støtte"): ("måned", 6_000, 15_000),
    ("voksen", "Socialpædagogisk støtte i gruppe"): ("måned", 3_000, 6_000),
    ("voksen", "Bostøtte"): ("måned", 4_000, 9_000),
    ("voksen", "Ambulant behandling"): ("måned", 3_000, 6_000),
    ("voksen", "Dagbehandling"): ("måned", 10_000, 20_000),
    ("voksen", "Døgnbehandling"): ("døgn", 1_500, 2_500),
}
#: The function each type is booked on (weights where the account plan splits a type:
#: alcohol and drug treatment). Checked against accounts.csv, and for the children's
#: measures against the function's `kategori`.
FUNCTIONS: dict[tuple[str, str], dict[str, float]] = {
    **{("boern", t): {fn: 1} for t, fn in {
        "Opholdssted": "5.28.20", "Eget værelse": "5.28.20", "Kostskole/efterskole": "5.28.20",
        "Plejefamilie": "5.28.23", "Kommunal plejefamilie": "5.28.23", "Netværksplejefamilie": "5.28.23",
        "Døgninstitution": "5.28.24"}.items()},
    **{("boern", t): {"5.28.21": 1} for t in PREVENTIVE_TYPES},
    ("voksen", "Længerevarende botilbud"): {"5.38.50": 1},
    ("voksen", "Almen bolig med støtte"): {"5.38.51": 1},
    ("voksen", "Midlertidigt botilbud"): {"5.38.52": 1},
    **{("voksen", t): {"5.38.53": 1} for t in ("Socialpædagogisk støtte", "Socialpædagogisk støtte i gruppe",
                                               "Bostøtte")},
    **{("voksen", t): {"5.38.45": 70, "5.38.44": 30} for t in ("Ambulant behandling", "Dagbehandling",
                                                                "Døgnbehandling")},
}
#: Purchased places are dearer than the municipality's own.
MARKUP = {"Egen": 1.0, "Anden kommune": 1.15, "Privat": 1.30}
#: Who delivers an adult service without a facility (one at a facility is the municipality's own).
ADULT_SUPPLIERS = {"SEL85": {"Egen": 70, "Privat": 30}, "SEL101": {"Egen": 40, "Privat": 50, "Anden kommune": 10}}
#: Expense art per creditor: payments to other municipalities (4.6) and services (4.9);
#: one-off purchases at a placement's start 4.0.
ART_BY_SUPPLIER = {"Egen": "4.9", "Anden kommune": "4.6", "Privat": "4.9"}
ART_ONE_OFF, ART_SALE, ART_REFUND = "4.0", "7.1", "8.6"
PRICE_GROWTH = 0.02  # a year
#: One-off establishment payments (clothes, furniture) at the start of some placements.
ONE_OFF_SHARE = {ANBRINGELSE: 0.15, "SEL107": 0.10, "SEL108": 0.10}
ONE_OFF_DKK = (5_000, 25_000)
#: A granted measure's commitment sometimes has a cancelled twin (registered with a wrong tariff).
CANCELLED_TWIN_SHARE = 0.03
#: Own facilities sell a share of their places to other municipalities each month (art 7.1).
SOLD_PLACE_SHARE = 0.08
SOLD_PLACES = {  # tilbudstype -> (function, daily tariff low, high)
    LAENGEREVARENDE_BOTILBUD: ("5.38.50", 2_200, 3_200),
    MIDLERTIDIGT_BOTILBUD: ("5.38.52", 1_800, 2_600),
    ALMEN_BOLIG: ("5.38.51", 600, 900),
}
#: The municipality's own children's institutions (unit TIL-DOEGN; not in the tilbud system):
#: places per placed child a year, and their tariff when sold.
CHILDREN_INSTITUTION = ("TIL-DOEGN", "5.28.24", 0.07, 3_000, 4_000)
SHELTER_FUNCTION, SHELTER_DAILY, SHELTER_OCCUPANCY = "5.38.42", (600, 1_000), 0.85
#: Other arts (salaries, goods, internal charges) at the own facilities, outside every money figure.
OTHER_ARTS = {"1.1": 60, "2.2": 25, "9.4": 15}
OTHER_ART_SHARE, OTHER_ART_DKK = 0.02, (2_000, 60_000)
#: Budget: the original budget within ±7 % of the year's (annualised) net spend per function
#: and unit; a quarter of the lines corrected mid-year to within ±2 %.
BUDGET_NOISE, CORRECTED_SHARE, CORRECTED_NOISE = 0.07, 0.25, 0.02
#: Functions no reference knows: a retired function, one never in the plan, a typo.
UNKNOWN_FUNCTIONS = ("5.28.22", "5.38.59", "5.28.2")
#: How references are mistyped (each normalises back: trim, letter prefix with `-`, leading zeros).
PREFIX = {"boern": "F-", "voksen": "Y-"}


def snapshot_measures(tables: Tables) -> pd.DataFrame:
    """Every measure and service with what the economy needs (person, case unit, type, supplier,
    dates), taken before the case systems' defects are planted."""
    f, sag, barn = (tables["boern"][t] for t in ("Foranstaltning", "Sag", "Barn"))
    child_case = sag.set_index("SagId")
    person_of_child = barn.set_index("BarnId")["_person_id"]
    boern = pd.DataFrame({
        "system": "boern",
        "measure_id": f["ForanstaltningId"].to_numpy(dtype="int64"),
        "person_id": person_of_child.reindex(child_case["BarnId"].reindex(f["SagId"]).to_numpy()).to_numpy(),
        "case_unit": child_case["EnhedKode"].reindex(f["SagId"]).to_numpy(dtype=object),
        "kategori": f["Kategori"].to_numpy(dtype=object),
        "type": f["Type"].to_numpy(dtype=object),
        "start": f["StartDato"].to_numpy().astype("datetime64[D]"),
        "end": f["SlutDato"].to_numpy().astype("datetime64[D]"),
        "supplier": f["Leverandoer"].to_numpy(dtype=object),
        "tilbud_id": -1,
    })
    ydelse, vsag, borger = (tables["voksen"][t] for t in ("ydelse", "sag", "borger"))
    adult_case = vsag.set_index("sag_id")
    person_of_citizen = borger.set_index("borger_id")["_person_id"]
    code_of_type = {t: code for code, types in SERVICE_TYPES.items() for t in types}
    voksen = pd.DataFrame({
        "system": "voksen",
        "measure_id": ydelse["ydelse_id"].to_numpy(dtype="int64"),
        "person_id": person_of_citizen.reindex(adult_case["borger_id"].reindex(ydelse["sag_id"]).to_numpy()).to_numpy(),
        "case_unit": adult_case["enhed_kode"].reindex(ydelse["sag_id"]).to_numpy(dtype=object),
        "kategori": ydelse["ydelsestype"].map(code_of_type).to_numpy(dtype=object),
        "type": ydelse["ydelsestype"].to_numpy(dtype=object),
        "start": ydelse["start_dato"].to_numpy().astype("datetime64[D]"),
        "end": ydelse["slut_dato"].to_numpy().astype("datetime64[D]"),
        "supplier": None,
        "tilbud_id": pd.to_numeric(ydelse["tilbud_id"]).fillna(-1).to_numpy(dtype="int64"),
    })
    measures = pd.concat([boern, voksen], ignore_index=True)
    measures["person_id"] = measures["person_id"].astype("int64")
    return measures


def _as_written(tables: Tables) -> pd.DataFrame:
    """What the case systems say after their defects: deleted (the measure or its case) and the dates."""
    frames = []
    for system, (measure_table, case_table, mid, cid, deleted, start, end) in {
            "boern": ("Foranstaltning", "Sag", "ForanstaltningId", "SagId", "Slettet", "StartDato", "SlutDato"),
            "voksen": ("ydelse", "sag", "ydelse_id", "sag_id", "slettet", "start_dato", "slut_dato")}.items():
        rows, cases = tables[system][measure_table], tables[system][case_table]
        deleted_cases = cases.loc[cases[deleted].astype(bool), cid]
        frames.append(pd.DataFrame({
            "system": system,
            "measure_id": rows[mid].to_numpy(dtype="int64"),
            "deleted": (rows[deleted].astype(bool) | rows[cid].isin(deleted_cases)).to_numpy(),
            "start_written": rows[start].to_numpy().astype("datetime64[D]"),
            "end_written": rows[end].to_numpy().astype("datetime64[D]"),
        }))
    return pd.concat(frames, ignore_index=True)


def reformatted(rng: np.random.Generator, references: np.ndarray, systems: np.ndarray) -> np.ndarray:
    """References as mistyped by hand: `F-000123`, ` 123`, `00000123`, `123 `."""
    text = pd.Series(references, dtype=object).astype(str)
    prefix = pd.Series(systems, dtype=object).map(PREFIX).fillna("X-")
    style = rng.integers(0, 4, len(text))
    return np.select([style == 0, style == 1, style == 2],
                     [prefix + text.str.zfill(6), " " + text, text.str.zfill(8)], text + " ").astype(object)


Columns = dict[str, np.ndarray]
#: Kinds of posting rows, in the order a voucher's rows sort (a copy right after its original).
MEASURE, ONE_OFF, SALE, SHELTER, OTHER, REFUND, COPY, CREDIT, REBOOKING = range(9)
EXPECT_DQ15, EXPECT_DQ08, EXPECT_DQ18 = 1, 2, 3


def _columns(n: int, kind: int, month, fra, til, beloeb, funktion, art, enhed, kreditor=None, system=None,
             ref=None, person=-1) -> Columns:
    """The working columns of `n` posting rows (scalars broadcast)."""
    def full(value, dtype):
        return np.broadcast_to(np.asarray(value, dtype=dtype), (n,)).copy()
    return {"kind": np.full(n, kind, dtype="int8"), "month": full(month, "datetime64[M]"),
            "fra": full(fra, "datetime64[D]"), "til": full(til, "datetime64[D]"), "beloeb": full(beloeb, "float64"),
            "funktion": full(funktion, object), "art": full(art, object), "enhed": full(enhed, object),
            "kreditor": full(kreditor, object), "system": full(system, object), "ref": full(ref, object),
            "person": full(person, "int64")}


def _concat(parts: list[Columns]) -> Columns:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _take(columns: Columns, at: np.ndarray) -> Columns:
    return {key: values[at] for key, values in columns.items()}


@dataclass
class Oekonomi:
    """The planned economy: measures with their prices, the commitments, and the postings and
    budget generated on demand (`postings()` first: the budget is set from what was booked)."""

    ctx: Context
    planter: QuirkPlanter
    measures: pd.DataFrame
    facilities: pd.DataFrame
    commitments: pd.DataFrame
    expected: dict = field(default_factory=dict)
    _booked: list = field(default_factory=list)  # per block: net and expense per booking year, function, unit
    _next_id: int = 1
    _postings_done: bool = False

    def __post_init__(self) -> None:
        m = self.measures
        self._m = {"start": m["start"].to_numpy().astype("datetime64[D]"),
                   "end": m["_end_or_max"].to_numpy().astype("datetime64[D]"),
                   "base": m["_base"].to_numpy(), "daily": m["_daily"].to_numpy(), "art": m["_art"].to_numpy(),
                   "funktion": m["_function"].to_numpy(), "enhed": m["_finance_unit"].to_numpy(),
                   "kreditor": m["_supplier"].to_numpy(), "system": m["system"].to_numpy(dtype=object),
                   "ref": m["_ref"].to_numpy(), "person": m["person_id"].to_numpy(), "one_off": m["_one_off"].to_numpy()}
        self._year_e = int(year_of(np.array([self.ctx.window.end]))[0])

    def _growth(self, year: int) -> float:
        return (1 + PRICE_GROWTH) ** (year - self._year_e)

    # --- postings ----------------------------------------------------------------------

    def postings(self) -> Iterator[pd.DataFrame]:
        """The postings in id order, one calendar year of service months at a time (the months
        from the one before the history start, whose services are booked in its first month,
        to the extraction month). Each year draws from its own streams."""
        w = self.ctx.window
        for key in ("DQ08", "DQ15", "DQ18"):
            self.expected[key] = {"postering_id": []}
        months = np.arange(w.start.astype("datetime64[M]") - 1, w.end.astype("datetime64[M]") + 1)
        years = months.astype("datetime64[Y]")
        for year in np.unique(years):
            rows = self._year_rows(months[years == year])
            if len(rows):
                yield rows
        self._postings_done = True

    def _year_rows(self, months: np.ndarray) -> pd.DataFrame:
        w = self.ctx.window
        year = int(str(months[0])[:4])
        rng = self.ctx.rng(f"oekonomi/postings/{year}")
        measure = self._measure_rows(months, year)
        rows = _concat([measure, self._one_offs(months), self._sales(rng, months, year),
                        self._shelters(rng, months, year), self._other_arts(rng, months, len(measure["kind"]))])
        if str(months[0]).endswith("-01"):  # the year's cost is known from January: settle its refunds
            rows = _concat([rows, self._refunds(rows, year)])
        rows["bogfoert"] = self._book(rng, rows, str(year))
        rows = _take(rows, (rows["bogfoert"] >= w.start) & (rows["bogfoert"] < w.end))
        self._remember_booked(rows)
        return self._finish(rng, self._plant(rows, str(year)))

    def _measure_rows(self, months: np.ndarray, year: int) -> Columns:
        """One posting per measure and service month it is active: the tariff × days (per day),
        or × the share of the month's days (per month)."""
        a = self._m
        first_day, last_day = months[0].astype("datetime64[D]"), (months[-1] + 1).astype("datetime64[D]") - DAY
        start, end = a["start"], a["end"]
        active = np.flatnonzero((start <= last_day) & (end >= first_day) & (end >= start))
        first_month = np.maximum(start[active].astype("datetime64[M]"), months[0])
        last_month = np.minimum(end[active].astype("datetime64[M]"), months[-1])
        count = (last_month - first_month).astype("int64") + 1
        at = explode(count)
        month = first_month[at] + (np.arange(len(at)) - np.repeat(np.cumsum(count) - count, count)).astype(
            "timedelta64[M]")
        idx = active[at]
        month_first, month_last = month.astype("datetime64[D]"), (month + 1).astype("datetime64[D]") - DAY
        lo, hi = np.maximum(start[idx], month_first), np.minimum(end[idx], month_last)
        covered = (hi - lo) / DAY + 1
        tariff = np.round(a["base"][idx] * self._growth(year))
        amount = np.where(a["daily"][idx], tariff * covered, tariff * covered / ((month_last - month_first) / DAY + 1))
        return self._measure_columns(idx, MEASURE, month, lo, hi, np.round(amount, 2), a["art"][idx])

    def _one_offs(self, months: np.ndarray) -> Columns:
        a = self._m
        start = a["start"]
        idx = np.flatnonzero((a["one_off"] > 0) & (start >= months[0].astype("datetime64[D]"))
                             & (start < (months[-1] + 1).astype("datetime64[D]")))
        return self._measure_columns(idx, ONE_OFF, start[idx].astype("datetime64[M]"), start[idx], start[idx],
                                     a["one_off"][idx], ART_ONE_OFF)

    def _measure_columns(self, idx: np.ndarray, kind: int, month, fra, til, beloeb, art) -> Columns:
        a = self._m
        return _columns(len(idx), kind, month, fra, til, beloeb, a["funktion"][idx], art, a["enhed"][idx],
                        a["kreditor"][idx], a["system"][idx], a["ref"][idx], a["person"][idx])

    def _facility_months(self, kind: str, months: np.ndarray):
        """Every (facility, month) of the block: the facility rows, the months and the days open."""
        f = self.facilities[self.facilities[kind]]
        at, month = np.repeat(np.arange(len(f)), len(months)), np.tile(months, len(f))
        first, last = month.astype("datetime64[D]"), (month + 1).astype("datetime64[D]") - DAY
        closed = f["aktiv_til"].to_numpy().astype("datetime64[D]")[at]
        lo = np.maximum(f["aktiv_fra"].to_numpy().astype("datetime64[D]")[at], first)
        hi = np.where(np.isnat(closed), last, np.minimum(closed, last))
        return f.iloc[at], month, lo, hi, np.maximum((hi - lo) / DAY + 1, 0)

    def _sales(self, rng: np.random.Generator, months: np.ndarray, year: int) -> Columns:
        """Places the municipality's own facilities sold to other municipalities, one posting a month each."""
        f, month, lo, hi, covered = self._facility_months("_sells", months)
        at = explode(rng.binomial(f["pladser"].to_numpy(), SOLD_PLACE_SHARE) * (covered > 0))
        low, high = f["_sale_low"].to_numpy()[at], f["_sale_high"].to_numpy()[at]
        daily = np.round((low + rng.random(len(at)) * (high - low)) * self._growth(year))
        return _columns(len(at), SALE, month[at], lo[at], hi[at], -np.round(daily * covered[at], 2),
                        f["_function"].to_numpy()[at], ART_SALE, f["_finance_unit"].to_numpy()[at])

    def _shelters(self, rng: np.random.Generator, months: np.ndarray, year: int) -> Columns:
        """The shelter operators' monthly payment for their places (no measure names these stays)."""
        f, month, lo, hi, covered = self._facility_months("_shelter", months)
        daily = SHELTER_DAILY[0] + rng.random(len(f)) * (SHELTER_DAILY[1] - SHELTER_DAILY[0])
        amount = np.round(f["pladser"].to_numpy() * SHELTER_OCCUPANCY * daily * covered * self._growth(year), 2)
        open_ = covered > 0
        return _columns(int(open_.sum()), SHELTER, month[open_], lo[open_], hi[open_], amount[open_],
                        f["_function"].to_numpy()[open_], ART_BY_SUPPLIER["Privat"],
                        f["_finance_unit"].to_numpy()[open_], "Privat")

    def _other_arts(self, rng: np.random.Generator, months: np.ndarray, n_measure_rows: int) -> Columns:
        """Salaries, goods and internal charges at the own facilities: no service period."""
        f = self.facilities[self.facilities["_own"]]
        n = rng.binomial(n_measure_rows, OTHER_ART_SHARE) if len(f) else 0
        at = rng.integers(0, max(len(f), 1), n)
        amount = np.round(OTHER_ART_DKK[0] + rng.random(n) * (OTHER_ART_DKK[1] - OTHER_ART_DKK[0]), 2)
        return _columns(n, OTHER, months[rng.integers(0, len(months), n)], NAT_DAY, NAT_DAY, amount,
                        f["_function"].to_numpy()[at], choose(rng, OTHER_ARTS, n), f["_finance_unit"].to_numpy()[at])

    def _refunds(self, rows: Columns, year: int) -> Columns:
        """The state refund for særligt dyre enkeltsager, settled each quarter on the person's cost so
        far this year (measures and one-offs by service month, refusion.csv), booked on the
        function and unit where the person's cost lay that quarter."""
        paid = np.flatnonzero(rows["person"] >= 0)
        persons, person = np.unique(rows["person"][paid], return_inverse=True)
        quarter = rows["month"][paid].astype("int64") % 12 // 3
        amount = rows["beloeb"][paid]
        by_quarter = np.zeros((len(persons), 4))
        np.add.at(by_quarter, (person, quarter), amount)
        so_far = estimated_refund(np.cumsum(by_quarter, axis=1), self.ctx.reference.refusion_row(year))
        settled = np.round(np.diff(so_far, axis=1, prepend=0.0), 2)
        # where the person's cost lay in the quarter: the largest (function, unit) sum, ties by code
        pair_codes, pairs = pd.factorize(pd.Series(rows["funktion"][paid] + "|" + rows["enhed"][paid], dtype=object))
        cell = (person * 4 + quarter) * len(pairs) + pair_codes
        cells, at = np.unique(cell, return_inverse=True)
        sums = np.bincount(at, amount, len(cells))
        person_quarter, pair = cells // len(pairs), cells % len(pairs)
        best = np.lexsort((np.asarray(pairs, dtype=object)[pair], -sums, person_quarter))
        first = best[np.r_[True, person_quarter[best][1:] != person_quarter[best][:-1]]]
        place = dict(zip(person_quarter[first], np.asarray(pairs, dtype=object)[pair[first]]))
        person_at, quarter_at = np.nonzero(settled > 0)
        funktion, enhed = (np.array([place[p * 4 + q].split("|")[i] for p, q in zip(person_at, quarter_at)],
                                    dtype=object) for i in (0, 1))
        last_month = np.datetime64(f"{year}-01") + (3 * quarter_at + 2).astype("timedelta64[M]")
        return _columns(len(quarter_at), REFUND, last_month, (last_month - 2).astype("datetime64[D]"),
                        (last_month + 1).astype("datetime64[D]") - DAY, -settled[person_at, quarter_at],
                        funktion, ART_REFUND, enhed)

    def _book(self, rng: np.random.Generator, rows: Columns, part: str) -> np.ndarray:
        """Booked in the first weeks after the service month; December's services on the last days
        of December, except those the year-end lets slip into January (a planted quirk).

        `posting_december_in_january` eligible: postings with a service period in December
        whose January booking would lie before the extraction date.
        """
        n = len(rows["kind"])
        next_month = (rows["month"] + 1).astype("datetime64[D]")
        other = rows["kind"] == OTHER
        lagged = next_month + np.where(other, rng.integers(0, 28, n), rng.integers(2, 21, n)).astype("timedelta64[D]")
        year_end = next_month - rng.integers(1, 5, n).astype("timedelta64[D]")
        eligible = ~other & (rows["month"].astype("int64") % 12 == 11) & (lagged < self.ctx.window.end)
        slipped = self.planter.pick_part("posting_december_in_january", POSTINGS, part, eligible)
        booked = np.where(eligible, year_end, lagged)
        booked[slipped] = lagged[slipped]
        return booked

    def _remember_booked(self, rows: Columns) -> None:
        """Net and expense per booking year, function and unit as booked before any defect: the
        budget's basis (summed on integer codes: a year of national postings is millions of rows)."""
        art_codes, arts = pd.factorize(rows["art"])
        art_class = np.array([a[0] for a in arts] + [""], dtype=object)[art_codes]
        money = np.isin(art_class, ["4", "7", "8"])
        if not money.any():
            return
        year = year_of(rows["bogfoert"][money])
        first_year = year.min()
        function_codes, functions = pd.factorize(rows["funktion"][money])
        unit_codes, units = pd.factorize(rows["enhed"][money])
        key = ((year - first_year) * len(functions) + function_codes) * len(units) + unit_codes
        used, at = np.unique(key, return_inverse=True)
        amount = rows["beloeb"][money]
        self._booked.append(pd.DataFrame({
            "aar": used // len(units) // len(functions) + first_year,
            "funktion": np.asarray(functions, dtype=object)[used // len(units) % len(functions)],
            "enhed_kode": np.asarray(units, dtype=object)[used % len(units)],
            "net": np.bincount(at, amount, len(used)),
            "expense": np.bincount(at, np.where(art_class[money] == "4", amount, 0.0), len(used)),
        }).set_index(["aar", "funktion", "enhed_kode"]))

    # --- the posting quirks ------------------------------------------------------------

    def _plant(self, rows: Columns, part: str) -> Columns:
        """Plant the posting defects of one year's postings, each on different postings.

        Eligible, in order: `posting_credit_note` measure postings outside December whose credit
        note and rebooking fall before the extraction date (the original is over-billed by
        10-50 %, reversed by a credit note with its voucher 10-40 days later, and rebooked at
        the right amount on a new voucher); `posting_duplicate_voucher` the other measure
        postings (delivered a second time, identical); `posting_missing_reference` the measure
        postings left (booked by hand: no reference, case system or creditor);
        `posting_reference_formatting` the measure and one-off postings left (reference
        mistyped); `unknown_function` every posting left that was booked before the
        extraction year (so DQ19's year is untouched).
        """
        p, end = self.planter, self.ctx.window.end
        n = len(rows["kind"])
        measure = rows["kind"] == MEASURE
        booked = rows["bogfoert"]
        untouched = np.ones(n, bool)
        rows["origin"], rows["expect"] = np.arange(n), np.zeros(n, dtype="int8")

        december = rows["month"].astype("int64") % 12 == 11
        credited = p.pick_part("posting_credit_note", POSTINGS, part, measure & ~december & (booked + 45 * DAY < end))
        untouched[credited] = False
        values = p.rng("posting_credit_note", f"{POSTINGS}/{part}/values")
        true = rows["beloeb"][credited]
        billed = np.round(true * (1.1 + 0.4 * values.random(len(credited))), 2)
        rows["beloeb"][credited] = billed
        credit = _take(rows, credited)
        credit["kind"][:], credit["beloeb"] = CREDIT, -billed
        credit["bogfoert"] = booked[credited] + values.integers(10, 41, len(credited)).astype("timedelta64[D]")
        rebooking = _take(rows, credited)
        rebooking["kind"][:], rebooking["beloeb"], rebooking["origin"][:] = REBOOKING, true, -1
        rebooking["bogfoert"] = credit["bogfoert"] + values.integers(0, 6, len(credited)).astype("timedelta64[D]")

        copied = p.pick_part("posting_duplicate_voucher", POSTINGS, part, measure & untouched)
        untouched[copied] = False
        copy = _take(rows, copied)
        copy["kind"][:], copy["expect"][:] = COPY, EXPECT_DQ18

        manual = p.pick_part("posting_missing_reference", POSTINGS, part, measure & untouched)
        untouched[manual] = False
        for column in ("ref", "system", "kreditor"):
            rows[column][manual] = None
        rows["expect"][manual] = EXPECT_DQ15

        mistyped = p.pick_part("posting_reference_formatting", POSTINGS, part,
                               (measure | (rows["kind"] == ONE_OFF)) & untouched)
        untouched[mistyped] = False
        rows["ref"][mistyped] = reformatted(p.rng("posting_reference_formatting", f"{POSTINGS}/{part}/values"),
                                            rows["ref"][mistyped], rows["system"][mistyped])

        unknown = p.pick_part("unknown_function", POSTINGS, part, untouched & (year_of(booked) < self._year_e))
        rows["funktion"][unknown] = np.array(UNKNOWN_FUNCTIONS, dtype=object)[
            p.rng("unknown_function", f"{POSTINGS}/{part}/values").integers(0, len(UNKNOWN_FUNCTIONS), len(unknown))]
        rows["expect"][unknown] = EXPECT_DQ08
        return _concat([rows, copy, credit, rebooking])

    def _finish(self, rng: np.random.Generator, rows: Columns) -> pd.DataFrame:
        """Ids in booking order (a copy right after its original), vouchers, change timestamps."""
        n = len(rows["kind"])
        origin = rows["origin"].copy()
        own = origin < 0
        origin[own] = np.flatnonzero(own)  # a rebooking has a voucher of its own
        order = np.lexsort((np.arange(n), rows["kind"], origin, rows["bogfoert"]))
        ids = np.empty(n, dtype="int64")
        ids[order] = self._next_id + np.arange(n)
        self._next_id += n
        changed = change_timestamps(rng, rows["bogfoert"], self.ctx.window, 1.0)
        copy = rows["kind"] == COPY
        changed[copy] = changed[origin[copy]]  # delivered twice, identical
        for flag, rule in ((EXPECT_DQ15, "DQ15"), (EXPECT_DQ08, "DQ08"), (EXPECT_DQ18, "DQ18")):
            self.expected[rule]["postering_id"].extend(np.sort(ids[rows["expect"] == flag]).tolist())
        def text(values: np.ndarray) -> pd.Series:  # object, not inferred as Arrow strings: the writer wants objects
            return pd.Series(values[order], dtype=object)

        return pd.DataFrame({
            "postering_id": ids[order], "bogfoert_dato": rows["bogfoert"][order], "periode_fra": rows["fra"][order],
            "periode_til": rows["til"][order], "beloeb": rows["beloeb"][order], "funktion": text(rows["funktion"]),
            "art": text(rows["art"]), "enhed_kode": text(rows["enhed"]), "kreditor_type": text(rows["kreditor"]),
            "kilde_system": text(rows["system"]), "foranstaltning_ref": text(rows["ref"]),
            "bilag": pd.Series((ids[origin][order] + 4_000_000_000).astype(str), dtype=object),
            "opdateret": changed[order],
        })

    # --- budget ------------------------------------------------------------------------

    def budgets(self) -> Iterator[pd.DataFrame]:
        """The periodised budget (one frame), set from what the postings booked; a generator so
        it runs only after `postings()` has been written."""
        if not self._postings_done:
            raise RuntimeError("the budget is set from the postings: write the postings first")
        yield self._budget()

    def _budget(self) -> pd.DataFrame:
        w, rng = self.ctx.window, self.ctx.rng("oekonomi/budget")
        booked = pd.concat(self._booked).groupby(level=[0, 1, 2]).sum()
        booked.index.names = ["aar", "funktion", "enhed_kode"]
        booked = booked.reset_index()
        years = booked["aar"].to_numpy()
        year_start = (years - 1970).astype("datetime64[Y]").astype("datetime64[D]")
        year_end = (years + 1 - 1970).astype("datetime64[Y]").astype("datetime64[D]")
        covered = (np.minimum(year_end, w.end) - np.maximum(year_start, w.start)) / DAY
        annual = booked["net"].to_numpy() * (year_end - year_start) / DAY / covered  # annualised
        original = annual * (1 - BUDGET_NOISE + 2 * BUDGET_NOISE * rng.random(len(booked)))
        revised = year_start + np.timedelta64(151, "D") + rng.integers(0, 91, len(booked)).astype("timedelta64[D]")
        corrected = (rng.random(len(booked)) < CORRECTED_SHARE) & (revised < w.end)
        corrected_amount = annual * (1 - CORRECTED_NOISE + 2 * CORRECTED_NOISE * rng.random(len(booked)))
        adopted = year_start - np.timedelta64(31, "D") + rng.integers(0, 20, len(booked)).astype("timedelta64[D]")

        missing = self.planter.pick("budget_missing", BUDGET, (years == self._year_e) & (booked["expense"] > 0).to_numpy())
        kept = np.ones(len(booked), bool)
        kept[missing] = False
        self.expected["DQ19"] = {"aar": self._year_e, "pairs": sorted(
            [f, u] for f, u in zip(booked["funktion"].to_numpy()[missing], booked["enhed_kode"].to_numpy()[missing]))}

        lines = []
        for version, chosen, amount, when in (("Oprindeligt", kept, original, adopted),
                                              ("Korrigeret", kept & corrected, corrected_amount, revised)):
            at = np.repeat(np.flatnonzero(chosen), 12)
            lines.append(pd.DataFrame({
                "aar": years[at], "maaned": np.tile(np.arange(1, 13), chosen.sum()),
                "funktion": booked["funktion"].to_numpy()[at], "enhed_kode": booked["enhed_kode"].to_numpy()[at],
                "beloeb": np.round(amount[at] / 12), "version": version,
                "opdateret": change_timestamps(rng, when[at], w, 0.5),
            }))
        budget = pd.concat(lines, ignore_index=True)
        budget = budget.sort_values(["aar", "version", "funktion", "enhed_kode", "maaned"],
                                    key=lambda c: c.map({"Oprindeligt": 0, "Korrigeret": 1}) if c.name == "version" else c,
                                    kind="stable", ignore_index=True)
        budget.insert(0, "budget_id", np.arange(1, len(budget) + 1))
        return budget



def plan_oekonomi(ctx: Context, planter: QuirkPlanter, measures: pd.DataFrame, tables: Tables,
                  facilities: pd.DataFrame) -> Oekonomi:
    """Price the measures, plant the measure-level defects and build the commitments.

    `measures` is `snapshot_measures` of the clean tables; `tables` are the case systems
    after their defects were planted (what they say now). Eligible records:
    `measure_without_economy` measures active on the extraction date as the case system
    shows them (a start on or before 60 days before it, no end or an end on or after it, not
    deleted, dates as really happened) — they get neither postings nor commitments;
    `commitment_open_after_end` the measures' own commitments (not one-offs, not cancelled)
    whose measure ended before the extraction date with its dates as really happened and not
    deleted — the end is left open; `posting_reference_formatting` every commitment left.
    """
    w = ctx.window
    rng = ctx.rng("oekonomi/measures")
    m = measures.merge(_as_written(tables), on=["system", "measure_id"], how="left", validate="one_to_one")
    _price(ctx, rng, m)

    end_or_max = np.where(np.isnat(m["end"].to_numpy()), np.datetime64("9999-12-31"), m["end"].to_numpy())
    m["_end_or_max"] = end_or_max.astype("datetime64[D]")
    start_written, end_written = m["start_written"].to_numpy(), m["end_written"].to_numpy()
    as_happened = (~m["deleted"].to_numpy() & (start_written == m["start"].to_numpy())
                   & ((end_written == m["end"].to_numpy()) | (np.isnat(end_written) & np.isnat(m["end"].to_numpy()))))
    active_on_e = (start_written <= w.end - 60 * DAY) & (np.isnat(end_written) | (end_written >= w.end))
    without = np.zeros(len(m), bool)
    expected_dq16 = {}
    for system, table in SYSTEM_TABLES.items():
        here = (m["system"] == system).to_numpy()
        chosen = planter.pick("measure_without_economy", table, here & as_happened & active_on_e)
        without[chosen] = True
        expected_dq16[system] = sorted(m["measure_id"].to_numpy()[chosen].tolist())
    m = m[~without].reset_index(drop=True)

    commitments, open_ids = _commitments(ctx, planter, m, as_happened[~without])
    economy = Oekonomi(ctx, planter, m, _facilities(ctx, facilities), commitments)
    economy.expected["DQ16"] = expected_dq16
    economy.expected["DQ17"] = {"disponering_id": open_ids}
    return economy


def _price(ctx: Context, rng: np.random.Generator, m: pd.DataFrame) -> None:
    """Function, finance unit, creditor, art, tariff and one-off amount of every measure (in place)."""
    reference = ctx.reference
    keys = list(zip(m["system"], m["type"]))
    unknown = sorted({k for k in keys if k not in TARIFFS or k not in FUNCTIONS})
    if unknown:
        raise ValueError(f"no tariff or function for measure types {unknown}")
    n = len(m)
    supplier = m["supplier"].to_numpy(dtype=object).copy()
    adult = (m["system"] == "voksen").to_numpy()
    at_facility = m["tilbud_id"].to_numpy() >= 0
    supplier[adult & at_facility] = "Egen"
    for code, weights in ADULT_SUPPLIERS.items():
        here = adult & ~at_facility & (m["kategori"] == code).to_numpy()
        supplier[here] = choose(rng, weights, here.sum())
    if pd.isna(supplier).any():
        raise ValueError("a measure has no supplier")

    function = np.empty(n, dtype=object)
    daily, low, high = np.zeros(n, bool), np.zeros(n), np.zeros(n)
    systems, types, kategori = m["system"].to_numpy(), m["type"].to_numpy(), m["kategori"].to_numpy()
    for key in sorted(set(keys)):
        here = (systems == key[0]) & (types == key[1])
        unit, low[here], high[here] = TARIFFS[key]
        daily[here] = unit == "døgn"
        function[here] = choose(rng, FUNCTIONS[key], here.sum())
        for funktion in FUNCTIONS[key]:
            account = reference.function(funktion)
            if key[0] == "boern" and account["kategori"] != kategori[here][0]:
                raise ValueError(f"accounts.csv: {funktion} is {account['kategori']}, but {key[1]} is {kategori[here][0]}")
    markup = pd.Series(supplier).map(MARKUP).to_numpy(dtype=float)
    m["_function"] = function
    m["_daily"] = daily
    m["_base"] = (low + rng.random(n) * (high - low)) * markup
    m["_supplier"] = supplier
    m["_art"] = pd.Series(supplier).map(ART_BY_SUPPLIER).to_numpy(dtype=object)
    units = {(s, u): reference.finance_unit(s, u) for s, u in set(zip(m["system"], m["case_unit"]))}
    m["_finance_unit"] = [units[k] for k in zip(m["system"], m["case_unit"])]
    m["_ref"] = m["measure_id"].astype(str).to_numpy(dtype=object)
    share = m["kategori"].map(ONE_OFF_SHARE).fillna(0).to_numpy(dtype=float)
    one_off = rng.random(n) < share
    m["_one_off"] = np.where(one_off, np.round(ONE_OFF_DKK[0] + rng.random(n) * (ONE_OFF_DKK[1] - ONE_OFF_DKK[0])), 0.0)


def _facilities(ctx: Context, facilities: pd.DataFrame) -> pd.DataFrame:
    """The own facilities the economy books on: those selling places, the shelters (operators
    paid monthly) and every own facility unit for the other arts; plus the children's institutions."""
    reference = ctx.reference
    unit, function, per_placed_child, low, high = CHILDREN_INSTITUTION
    children = pd.DataFrame({
        "tilbudstype": "Døgninstitution for børn", "unit": unit,
        "pladser": max(6, int(round(ctx.profile.placed_children_per_year * per_placed_child))),
        "aktiv_fra": np.array([ctx.window.start - 3650 * DAY]), "aktiv_til": NAT_DAY,
    })
    own = pd.concat([facilities[["tilbudstype", "unit", "pladser", "aktiv_fra", "aktiv_til"]], children],
                    ignore_index=True)
    kind = own["tilbudstype"].to_numpy()
    sale = pd.Series(kind).map({**SOLD_PLACES,
                                "Døgninstitution for børn": (function, low, high)})
    own["_sells"] = sale.notna().to_numpy()
    own["_shelter"] = np.isin(kind, SHELTERS_AND_NATCAFE)
    own["_own"] = own["_sells"] | own["_shelter"]
    own["_function"] = np.where(own["_shelter"], SHELTER_FUNCTION, sale.map(lambda v: v[0] if isinstance(v, tuple) else None))
    own["_sale_low"] = sale.map(lambda v: v[1] if isinstance(v, tuple) else 0.0).to_numpy(dtype=float)
    own["_sale_high"] = sale.map(lambda v: v[2] if isinstance(v, tuple) else 0.0).to_numpy(dtype=float)
    own["_finance_unit"] = [reference.finance_unit("tilbud", u) for u in own["unit"]]
    for f in set(own.loc[own["_own"], "_function"]):
        reference.function(f)
    return own[own["_own"]].reset_index(drop=True)


def _commitments(ctx: Context, planter: QuirkPlanter, m: pd.DataFrame,
                 as_happened: np.ndarray) -> tuple[pd.DataFrame, list[int]]:
    """One commitment per measure (dates as the case system has them, the current tariff),
    one per one-off, a cancelled twin for some; a deleted measure's commitments are cancelled."""
    w, rng = ctx.window, ctx.rng("oekonomi/commitments")
    year_e = int(year_of(np.array([w.end]))[0])
    end_year = np.where(np.isnat(m["end"].to_numpy()), year_e, np.minimum(year_of(m["end"].to_numpy()), year_e))
    tariff = np.round(m["_base"].to_numpy() * (1 + PRICE_GROWTH) ** (end_year - year_e))
    base = pd.DataFrame({
        "kilde_system": m["system"].to_numpy(), "foranstaltning_ref": m["_ref"].to_numpy(),
        "fra_dato": m["start"].to_numpy(), "til_dato": m["end_written"].to_numpy(), "takst": tariff,
        "takst_enhed": np.where(m["_daily"].to_numpy(), "døgn", "måned"), "funktion": m["_function"].to_numpy(),
        "annulleret": m["deleted"].to_numpy(), "_measure": np.arange(len(m)), "_rank": 0,
    })
    one_off = np.flatnonzero(m["_one_off"].to_numpy() > 0)
    once = base.iloc[one_off].assign(til_dato=m["start"].to_numpy()[one_off], takst=m["_one_off"].to_numpy()[one_off],
                                     takst_enhed="engangs", _rank=1)
    twin = np.flatnonzero(rng.random(len(base)) < CANCELLED_TWIN_SHARE)
    cancelled = base.iloc[twin].assign(takst=np.round(tariff[twin] * (0.8 + 0.4 * rng.random(len(twin)))),
                                       annulleret=True, _rank=2)
    commitments = pd.concat([base, once, cancelled], ignore_index=True)

    ended = commitments["til_dato"].notna().to_numpy() & (commitments["til_dato"].to_numpy() < w.end)
    own = (commitments["_rank"] == 0).to_numpy() & ~commitments["annulleret"].to_numpy()
    left_open = planter.pick("commitment_open_after_end", COMMITMENTS,
                             own & ended & as_happened[commitments["_measure"].to_numpy()])
    closed_on = commitments["til_dato"].to_numpy().copy()
    commitments.loc[left_open, "til_dato"] = NAT_DAY
    mistyped = np.ones(len(commitments), bool)
    mistyped[left_open] = False
    mistyped = planter.pick("posting_reference_formatting", COMMITMENTS, mistyped)
    commitments.loc[mistyped, "foranstaltning_ref"] = reformatted(
        planter.rng("posting_reference_formatting", f"{COMMITMENTS}/values"),
        commitments["foranstaltning_ref"].to_numpy()[mistyped], commitments["kilde_system"].to_numpy()[mistyped])

    fra = commitments["fra_dato"].to_numpy()
    last_change = np.where(np.isnat(closed_on), fra, np.fmax(fra, closed_on))
    last_change[left_open] = fra[left_open]  # never touched again: that is the defect
    commitments["opdateret"] = change_timestamps(rng, np.maximum(last_change, w.start - 3650 * DAY), w)
    order = np.lexsort((commitments["_rank"].to_numpy(), m["measure_id"].to_numpy()[commitments["_measure"].to_numpy()],
                        commitments["kilde_system"].to_numpy() == "voksen", fra))
    ids = np.empty(len(commitments), dtype="int64")
    ids[order] = np.arange(1, len(commitments) + 1)
    commitments.insert(0, "disponering_id", ids)
    open_ids = sorted(ids[left_open].tolist())
    return commitments.iloc[order].reset_index(drop=True), open_ids
