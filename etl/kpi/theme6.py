"""Theme 6 — Økonomi og styring: money meets activity on the same measure and case.

The money figures read the postings, the budget and the commitments of source 8 as the
model links them (`fact_posting`, `fact_budget`, `fact_commitment`, `dim_measure_link`)
and `ref_account` for each function's kategori, area and foranstaltningstype. Binding
readings: `../shared/spec/economy.md`; the exact rules as implemented are each KPI's
`definition` in `etl.kpi.catalog`.

National scale has tens of millions of postings and twenty periods a night, so nothing
here loops over postings or days: the postings that count are prepared once per model as
integer-coded arrays sorted by booking date (`_economy`), a period is a slice found by
binary search, labels (kategori, unit, type) are taken from short label arrays, and a
commitment's remaining cost is closed-form arithmetic on dates.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Mapping
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from etl.core.periods import Period
from etl.core.reference import estimated_refund
from etl.core.vocabulary import AREA_CHILDREN, CORRECTED_BUDGET, OWN_SUPPLIER
from etl.kpi.aggregate import measure_rows, ratio, summarise, summarise_org_level
from etl.kpi.catalog import CATALOG, kpi
from etl.model import Model
from etl.model.org import UNKNOWN, resolve_org

log = logging.getLogger(__name__)

DKK = "dkk"
#: The account plan's art for the sale of places (T6.05's `sold_places`).
ART_SALE_OF_PLACES = "7.1"
#: T6.04's share of citizens: allowed range (economy.md: 10-15 %), default 10.
EXPENSIVE_PERCENT_RANGE = (10.0, 15.0)
_DAY = np.timedelta64(1, "D")
_FAR = np.datetime64("9999-12-31", "D")


# --- labels --------------------------------------------------------------------------

def _labels(labels: np.ndarray, codes: np.ndarray) -> pd.Series:
    """Text of each code (`labels[code]`, missing where the label is), as a categorical: a
    small integer per member instead of a string (T6.07's members of a year at national held
    2.5 GiB of label text per worker); `summarise` reads the categories as it reads text."""
    text = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in labels]
    categories = pd.Index(sorted({v for v in text if v is not None}), dtype="str")
    positions = np.array([-1 if v is None else categories.get_loc(v) for v in text], dtype=np.int64)
    member_codes = positions[np.asarray(codes, dtype=np.int64)] if len(positions) else np.full(len(codes), -1)
    return pd.Series(pd.Categorical.from_codes(member_codes, dtype=pd.CategoricalDtype(categories)))


def _codes(values: pd.Series, index: pd.Index) -> np.ndarray:
    """Positions of `values` in `index`, -1 where missing or unknown: looked up once per
    distinct value, so 15.9 M national postings never become Python objects."""
    codes, uniques = pd.factorize(values)  # NA: code -1
    positions = np.append(index.get_indexer(pd.Index(np.asarray(uniques, dtype=object), dtype=object)), -1)
    return positions[codes]


def _days(values: pd.Series) -> np.ndarray:
    return values.to_numpy(dtype="datetime64[D]", na_value=np.datetime64("NaT"))


class _Economy:
    """The money of one model, prepared once per part as it is first needed (so a KPI reads
    only the tables its lineage declares): integer codes into short label arrays.

    Functions: `fn` indexes the account plan, its last position the unknown function
    (kategori, function and area `Ukendt`, no type). Units: `unit` indexes `units` (the
    finance units of the postings and the case units of the measures; the budget has its
    own `budget_units`), its last position none (`Ukendt` once resolved). Measures: `m`
    indexes `dim_measure_link`, -1 where the money reaches no measure.
    """

    def __init__(self, model: Model) -> None:
        self.model = model
        accounts = model.ref_account
        self.functions = pd.Index(accounts["funktion"].astype(str))
        link = model.dim_measure_link
        # a measure whose type is Ukendt (not on its list) takes the function's type, like one without
        link = link.assign(service_type=link["service_type"].mask(link["service_type"].eq(UNKNOWN)))
        types = pd.Index(sorted(set(accounts["foranstaltningstype"].dropna()) | set(link["service_type"].dropna())))
        self.types = types.to_numpy(dtype=object)
        self.fn_type = np.append(_codes(accounts["foranstaltningstype"], types), -1)
        self.fn_kategori = np.append(accounts["kategori"].astype(str).to_numpy(dtype=object), UNKNOWN)
        self.fn_label = np.append(self.functions.to_numpy(dtype=object), UNKNOWN)
        self.fn_area = np.append(accounts["area"].astype(str).to_numpy(dtype=object), UNKNOWN)

        def posting(name: str) -> pd.Series:
            """One column of `fact_posting`, from memory or read alone from the model folder
            (the KPI stage never holds the whole table: 2.3 GiB at national)."""
            return model.column("fact_posting", name)

        counted = (~posting("duplicate").astype(bool) & posting("money_class").isin(["expense", "revenue"])).to_numpy()

        def column(name: str) -> pd.Series:
            """One column of the counted postings, taken as it is coded (not a copy of the
            whole table: at national the copy was 2 GiB beside the model's own)."""
            return posting(name)[counted].reset_index(drop=True)

        unit_code = column("unit_code")
        units = pd.Index(pd.unique(pd.concat([unit_code, link["unit_code"]]).dropna().astype(str)))
        self.units = np.append(units.to_numpy(dtype=object), None)
        self._unit_index = units
        self.measure_of = pd.Index(link["service_key"])

        self.link = link
        citizen, citizen_keys = pd.factorize(link["citizen_key"])
        caseworker, caseworkers = pd.factorize(link["caseworker_key"].fillna(UNKNOWN))
        area, areas = pd.factorize(link["area"].fillna(UNKNOWN))
        self.citizen_keys = np.asarray(citizen_keys, dtype=object)
        self.caseworkers = np.asarray(caseworkers, dtype=object)
        self.areas = np.asarray(areas, dtype=object)
        self.measures = pd.DataFrame({
            "citizen": citizen, "case": pd.factorize(link["case_key"])[0], "caseworker": caseworker,
            "unit": self.unit_codes(link["unit_code"]), "area": area, "type": _codes(link["service_type"], types),
            "deleted": link["deleted"].astype(bool).to_numpy(),
            "start": _days(link["start_date"]), "end": _days(link["end_date"])})

        booked = _days(column("booked_date"))
        expense = (column("money_class") == "expense").to_numpy()
        sale = column("art").astype("str").str.strip().eq(ART_SALE_OF_PLACES).to_numpy(dtype=bool, na_value=False)
        creditor, creditors = pd.factorize(column("creditor_type").fillna(UNKNOWN))
        self.creditors = np.asarray(creditors, dtype=object)
        self.postings = pd.DataFrame({
            "booked": booked, "amount": column("amount").to_numpy(dtype=float, na_value=0.0),
            "expense": expense, "revenue": ~expense, "sale": ~expense & sale,
            "period_to": _days(column("period_to")), "fn": self.fn_codes(column("funktion")),
            "unit": self.unit_codes(unit_code), "creditor": creditor,
            "m": _codes(column("service_key"), self.measure_of),
        }).iloc[np.argsort(booked, kind="stable")].reset_index(drop=True)

    def fn_codes(self, values: pd.Series) -> np.ndarray:
        codes = _codes(values.astype(str), self.functions)
        return np.where(codes >= 0, codes, len(self.functions))

    def unit_codes(self, values: pd.Series, index: pd.Index | None = None) -> np.ndarray:
        index = self._unit_index if index is None else index
        codes = _codes(values, index)
        return np.where(codes >= 0, codes, len(index))

    @cached_property
    def commitments(self) -> pd.DataFrame:
        """The commitments not cancelled: first day, til_dato, takst, unit, function, measure."""
        c = self.model.fact_commitment
        c = c[~c["cancelled"].astype(bool)]
        return pd.DataFrame({
            "start": _days(c["from_date"]), "to": _days(c["to_date"]),
            "rate": c["rate"].to_numpy(dtype=float, na_value=0.0), "rate_unit": c["rate_unit"].astype(str).to_numpy(),
            "fn": self.fn_codes(c["funktion"]), "m": _codes(c["service_key"], self.measure_of)})

    @cached_property
    def budget(self) -> pd.DataFrame:
        """Per year, month, function and unit the Korrigeret lines where any exist, else the
        Oprindeligt ones (economy.md); units coded into `budget_units`."""
        budget = self.model.fact_budget
        index = pd.Index(pd.unique(budget["unit_code"].dropna().astype(str)))
        self.budget_units = np.append(index.to_numpy(dtype=object), None)
        lines = pd.DataFrame({"year": budget["year"].to_numpy(dtype=float, na_value=np.nan),
                              "month": budget["month"].to_numpy(dtype=float, na_value=np.nan),
                              "fn": self.fn_codes(budget["funktion"]),
                              "unit": self.unit_codes(budget["unit_code"], index),
                              "amount": budget["amount"].to_numpy(dtype=float, na_value=0.0),
                              "corrected": (budget["version"] == CORRECTED_BUDGET).to_numpy(dtype=bool, na_value=False)})
        has_corrected = lines.groupby(["year", "month", "fn", "unit"])["corrected"].transform("any")
        return lines[lines["corrected"] | ~has_corrected].drop(columns="corrected").reset_index(drop=True)

    @cached_property
    def measure_function(self) -> np.ndarray:
        """The function each measure's money is booked on (its kategori in T6.07): that of its
        latest commitment (by first day), else of its latest expense posting, else unknown."""
        fn = np.full(len(self.measures), len(self.functions), dtype=np.int64)
        postings, commitments = self.postings, self.commitments
        expense = postings["expense"].to_numpy()
        set_latest(fn, postings["m"].to_numpy(), postings["fn"].to_numpy(), postings["booked"].to_numpy(), expense)
        set_latest(fn, commitments["m"].to_numpy(), commitments["fn"].to_numpy(),
                   commitments["start"].to_numpy())  # commitments last: they win
        return fn

    def slice(self, start: dt.date, end: dt.date) -> pd.DataFrame:
        """The postings booked in [start, end] (a binary search on the sorted dates)."""
        booked = self.postings["booked"].to_numpy()
        lo, hi = np.searchsorted(booked, [np.datetime64(start, "D"), np.datetime64(end, "D") + _DAY])
        return self.postings.iloc[lo:hi]

    # per-member attributes through the function and the measure
    def kategori(self, fn: np.ndarray) -> pd.Series:
        return _labels(self.fn_kategori, fn)

    def function(self, fn: np.ndarray) -> pd.Series:
        return _labels(self.fn_label, fn)

    def money_type(self, fn: np.ndarray, m: np.ndarray) -> pd.Series:
        """The linked measure's type, else the function's foranstaltningstype, else Ukendt."""
        measure_type = self.measure_column("type", m, -1).astype(np.int64)
        function_type = self.fn_type[fn]
        codes = np.where(measure_type >= 0, measure_type, np.where(function_type >= 0, function_type, -1))
        return _labels(np.append(self.types, UNKNOWN), np.where(codes >= 0, codes, len(self.types)))

    def measure_column(self, column: str, m: np.ndarray, missing=np.nan) -> np.ndarray:
        """A measure attribute of each member (`missing` where it reaches no measure)."""
        values = self.measures[column].to_numpy()
        if not len(values):
            return np.full(len(m), missing)
        return np.where(m >= 0, values[np.maximum(m, 0)], missing)

    def citizens(self, m: np.ndarray) -> np.ndarray:
        """Citizen codes (floats, NaN where the money reaches no citizen), for counting."""
        codes = self.measure_column("citizen", m).astype(float)
        return np.where(codes >= 0, codes, np.nan)

    def case_units(self, m: np.ndarray) -> np.ndarray:
        return self.measure_column("unit", m, len(self.units) - 1).astype(np.int64)


def set_latest(into: np.ndarray, m: np.ndarray, values: np.ndarray, dates: np.ndarray,
               rows: np.ndarray | None = None) -> None:
    """`into[m] = values` of each measure's latest row (of `rows`; m >= 0) by date: a tie goes
    to the later row, a row without a date counts as latest (pandas' stable sort, NaT last).
    In numpy, without a copy of the frame per worker (7.3 GiB peak at national in pandas)."""
    linked = np.flatnonzero((m >= 0) if rows is None else (m >= 0) & rows)
    ordered = linked[np.argsort(dates[linked], kind="stable")][::-1]
    measures, last = np.unique(m[ordered], return_index=True)  # first in reverse: the latest
    into[measures] = values[ordered[last]]


def _economy(model: Model) -> _Economy:
    return model.derived(("theme6", "economy"), lambda: _Economy(model))


def prepare_shared(model: Model, release: bool = False) -> None:
    """Prepare the postings' coded arrays (and the commitments, the budget and each measure's
    function) in the process that forks the KPI workers, so the workers share one copy
    instead of each building its own from `fact_posting` (15.9 M rows at national: two
    workers each held several GiB, docs/performance.md "Round 5" and "Round 7").
    With `release`, the model then lets go of `fact_posting` itself (only the coded copy is
    read after this; 2.3 GiB at national, "Round 6"; the KPI stage leaves it on disk and codes
    it column by column, "Round 7")."""
    economy = _economy(model)
    for part, table in (("commitments", "fact_commitment"), ("budget", "fact_budget"),
                        ("measure_function", "fact_commitment")):  # built once here, not in each worker
        if table not in model.absent:
            getattr(economy, part)
    if release:
        model.release("fact_posting", "coded once for theme 6 (theme6.prepare_shared); read the coded postings")
        pa.default_memory_pool().release_unused()  # its text buffers back to the system before the fork


# --- the money of a period, a prognosis, a budget -----------------------------------

def _year_start(day: dt.date) -> dt.date:
    return dt.date(day.year, 1, 1)


def _month_position(days: np.ndarray) -> np.ndarray:
    """Months since 1970 plus the fraction of the month before the day: the difference of two
    positions is the months covered, each month pro rata by its days (day d of a 31-day
    month starts at (d - 1) / 31)."""
    month = days.astype("datetime64[M]")
    first = month.astype("datetime64[D]")
    length = ((month + 1).astype("datetime64[D]") - first) / _DAY
    return month.astype(np.int64) + ((days - first) / _DAY) / length


def remaining_commitment_cost(commitments: pd.DataFrame, measure_end: np.ndarray, measure_deleted: np.ndarray,
                              status_date: dt.date) -> np.ndarray:
    """The cost still committed after `status_date` to 31 December of its year (economy.md,
    prognosis): from max(E + 1, fra_dato) to min(til_dato, the measure's end, 31 December),
    both days counted; `døgn` takst x days, `måned` takst x each month's share of days,
    `engangs` takst when E < fra_dato <= min(31 December, the measure's end). A commitment
    of a soft-deleted measure counts 0. `measure_end`/`measure_deleted` align with the rows
    (NaT / False where the commitment reaches no measure: not capped)."""
    day_after = np.datetime64(status_date, "D") + _DAY
    year_end = np.datetime64(dt.date(status_date.year, 12, 31), "D")
    start = commitments["start"].to_numpy()
    rate = commitments["rate"].to_numpy()
    unit = commitments["rate_unit"].to_numpy()
    measure_end = np.where(np.isnat(measure_end), _FAR, measure_end)
    first = np.maximum(day_after, start)
    last = np.minimum(np.minimum(np.where(np.isnat(commitments["to"].to_numpy()), _FAR, commitments["to"].to_numpy()),
                                 measure_end), year_end)
    covered = last >= first
    days = np.where(covered, (last - first) / _DAY + 1, 0.0)
    months = np.where(covered, _month_position(np.where(covered, last, first) + _DAY)
                      - _month_position(first), 0.0)
    once = (start >= day_after) & (start <= np.minimum(year_end, measure_end))
    cost = np.select([unit == "døgn", unit == "måned", unit == "engangs"],
                     [rate * days, rate * months, np.where(once, rate, 0.0)], 0.0)
    return np.where(measure_deleted | np.isnat(start), 0.0, cost)


def _prognosis(economy: _Economy, status_date: dt.date, model: Model) -> pd.DataFrame:
    """The year's expected net on `status_date`, as contributions: postings booked from 1
    January to E and every open commitment's remaining cost. `unit` is the posting's finance
    unit and the commitment's case unit (T6.02); `m` the measure (-1: none)."""
    def compute() -> pd.DataFrame:
        booked = economy.slice(_year_start(status_date), status_date)
        c = economy.commitments
        m = c["m"].to_numpy()
        cost = remaining_commitment_cost(
            c, economy.measure_column("end", m, np.datetime64("NaT")).astype("datetime64[D]"),
            economy.measure_column("deleted", m, False).astype(bool), status_date)
        committed = pd.DataFrame({"amount": cost, "fn": c["fn"].to_numpy(), "unit": economy.case_units(m),
                                  "m": m, "committed": True})[cost != 0]
        posted = pd.DataFrame({"amount": booked["amount"].to_numpy(), "fn": booked["fn"].to_numpy(),
                               "unit": booked["unit"].to_numpy(), "m": booked["m"].to_numpy(),
                               "committed": False})
        return pd.concat([posted, committed], ignore_index=True)
    return model.derived(("theme6", "prognosis", status_date), compute, slot="theme6-prognosis")


def _budget_weights(year: int, start: dt.date, end: dt.date) -> np.ndarray:
    """Each month's weight (index 1-12) in [start, end] of one year: whole months 1, the
    month holding an `end` short of its last day pro rata (day of E / days in the month)."""
    weights = np.zeros(13)
    if start.year != year:
        return weights
    weights[start.month:end.month + 1] = 1.0
    month_end = (dt.date(end.year + end.month // 12, end.month % 12 + 1, 1) - dt.timedelta(days=1)).day
    weights[end.month] = end.day / month_end
    return weights


def _budget(economy: _Economy, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Budget lines in force for [start, end] (one calendar year), weighted by month."""
    weights = _budget_weights(end.year, start, end)
    lines = economy.budget[economy.budget["year"] == end.year]
    amount = lines["amount"].to_numpy() * weights[lines["month"].to_numpy(dtype=np.int64)]
    return pd.DataFrame({"fn": lines["fn"].to_numpy(), "unit": lines["unit"].to_numpy(), "budget": amount})[amount != 0]


# --- members and rows -------------------------------------------------------------

def _org(economy: _Economy, units: np.ndarray, model: Model, on: dt.date,
         area: pd.Series | None = None, labels: np.ndarray | None = None) -> dict[str, pd.Series]:
    """org_area, org_center and org_unit of unit codes (into `labels`, default the economy's
    units) resolved on `on`, each distinct unit once; the area is the resolved unit's unless
    an area is given (e.g. the function's)."""
    labels = economy.units if labels is None else labels
    org = resolve_org(pd.Series(labels, dtype=object), model.dim_org, on)
    columns = {"org_center": _labels(org["center"].to_numpy(dtype=object), units),
               "org_unit": _labels(org["unit"].to_numpy(dtype=object), units)}
    columns["org_area"] = area.reset_index(drop=True) if area is not None else _labels(
        org["org_area"].to_numpy(dtype=object), units)
    return columns


def _money_rows(summary: pd.DataFrame, measures: Mapping[str, str], persons: str | None = "persons",
                unit: str = DKK) -> list[pd.DataFrame]:
    """A money measure per summary column (measure -> column), with the persons behind each cell."""
    behind = summary[persons] if persons else None
    return [measure_rows(summary, measure, unit, summary[column], persons_behind=behind)
            for measure, column in measures.items()]


def _share_rows(summary: pd.DataFrame, measure: str, numerator: str, denominator: str,
                persons: str | None = "persons") -> pd.DataFrame:
    return measure_rows(summary, measure, "share", ratio(summary[numerator], summary[denominator]),
                        summary[numerator].astype(float), summary[denominator].astype(float),
                        persons_behind=summary[persons] if persons else None)


def _with_total(summary: pd.DataFrame, column: str, name: str) -> pd.DataFrame:
    """Add `name`: the org group's total (dimension NULL) of `column`, beside each of its rows."""
    totals = summary[summary["dimension"].isna()][["org_level", "org_key", column]].rename(columns={column: name})
    return summary.merge(totals, on=["org_level", "org_key"], how="left")


def _nan_where(values: pd.Series, mask: pd.Series) -> pd.Series:
    return values.astype(float).where(~mask.to_numpy())


# --- T6.01-T6.07 --------------------------------------------------------------------

@kpi("T6.01")
def spending_against_budget(model: Model, period: Period) -> pd.DataFrame:
    """Expense, revenue and net by booking date against the periodised budget, and the net
    of earlier years' services (prior_year). Organisation: the finance unit."""
    economy = _economy(model)
    booked = economy.slice(period.start, period.end)
    fn = booked["fn"].to_numpy()
    amount = booked["amount"].to_numpy()
    prior = booked["period_to"].to_numpy() < np.datetime64(_year_start(period.end), "D")  # NaT: never prior
    posted = pd.DataFrame({
        "expense": np.where(booked["expense"], amount, 0.0), "revenue": np.where(booked["revenue"], -amount, 0.0),
        "net": amount, "prior": np.where(prior, amount, 0.0), "budget": 0.0,
        "citizen": economy.citizens(booked["m"].to_numpy()),
        "kategori": economy.kategori(fn), "function": economy.function(fn),
        "foranstaltningstype": economy.money_type(fn, booked["m"].to_numpy()),
        **_org(economy, booked["unit"].to_numpy(), model, period.end)})
    budget = _budget(economy, period.start, period.end)
    planned = pd.DataFrame({
        "expense": 0.0, "revenue": 0.0, "net": 0.0, "prior": 0.0, "budget": budget["budget"].to_numpy(),
        "citizen": np.nan, "kategori": economy.kategori(budget["fn"].to_numpy()),
        "function": economy.function(budget["fn"].to_numpy()), "foranstaltningstype": None,
        **_org(economy, budget["unit"].to_numpy(), model, period.end, labels=economy.budget_units)})
    sums = {name: (name, "sum") for name in ("expense", "revenue", "net", "prior", "budget")}
    with_budget = summarise(pd.concat([posted, planned], ignore_index=True), ("kategori", "function"),
                            **sums, persons=("citizen", "nunique"))
    by_type = summarise(posted, ("foranstaltningstype",), **sums, persons=("citizen", "nunique"))
    summary = pd.concat([with_budget, by_type[by_type["dimension"].notna()]], ignore_index=True)
    no_budget = summary["dimension"].eq("foranstaltningstype")  # the budget has no type
    budget_values = _nan_where(summary["budget"], no_budget)
    summary = summary.assign(budget=budget_values, deviation=summary["net"] - budget_values)
    rows = _money_rows(summary, {"expense": "expense", "revenue": "revenue", "net": "net",
                                 "deviation": "deviation", "prior_year": "prior"})
    # a budget rests on no citizen: persons behind 0, so suppression publishes it (unless its cell is small)
    rows.append(measure_rows(summary, "budget", DKK, summary["budget"], persons_behind=np.zeros(len(summary))))
    rows.append(_share_rows(summary, "share_of_budget", "net", "budget"))
    return pd.concat(rows, ignore_index=True)


def _prognosis_members(economy: _Economy, model: Model, status_date: dt.date, *, children_only: bool = False,
                       through_case: bool = False) -> pd.DataFrame:
    """Prognosis contributions on `status_date` as members: amount, citizen, kategori, type
    and organisation (the finance/case unit of T6.02, or the case's unit with `through_case`)."""
    parts = _prognosis(economy, status_date, model)
    if children_only:
        parts = parts[economy.fn_area[parts["fn"].to_numpy()] == AREA_CHILDREN]
    if through_case:
        parts = parts[parts["m"].to_numpy() >= 0]
    fn, m = parts["fn"].to_numpy(), parts["m"].to_numpy()
    units = economy.case_units(m) if through_case else parts["unit"].to_numpy()
    return pd.DataFrame({"amount": parts["amount"].to_numpy(), "committed": parts["committed"].to_numpy(),
                         "citizen": economy.citizens(m), "m": m, "fn": fn,
                         "kategori": economy.kategori(fn), "foranstaltningstype": economy.money_type(fn, m),
                         **_org(economy, units, model, status_date)})


@kpi("T6.02")
def prognosis_for_the_year(model: Model, period: Period) -> pd.DataFrame:
    """The year's expected net on E (net so far + what open commitments still cost to 31
    December) against the year's budget."""
    economy = _economy(model)
    expected = _prognosis_members(economy, model, period.end).assign(budget=0.0)
    budget = _budget(economy, _year_start(period.end), dt.date(period.end.year, 12, 31))
    planned = pd.DataFrame({"amount": 0.0, "citizen": np.nan, "budget": budget["budget"].to_numpy(),
                            "kategori": economy.kategori(budget["fn"].to_numpy()), "foranstaltningstype": None,
                            **_org(economy, budget["unit"].to_numpy(), model, period.end, labels=economy.budget_units)})
    sums = {"prognosis": ("amount", "sum"), "budget": ("budget", "sum"), "persons": ("citizen", "nunique")}
    with_budget = summarise(pd.concat([expected, planned], ignore_index=True), ("kategori",), **sums)
    by_type = summarise(expected, ("foranstaltningstype",), **sums)
    summary = pd.concat([with_budget, by_type[by_type["dimension"].notna()]], ignore_index=True)
    budget_values = _nan_where(summary["budget"], summary["dimension"].eq("foranstaltningstype"))
    summary = summary.assign(budget=budget_values, deviation=summary["prognosis"] - budget_values)
    rows = _money_rows(summary, {"prognosis": "prognosis", "deviation": "deviation"})
    rows.append(measure_rows(summary, "budget_year", DKK, summary["budget"], persons_behind=np.zeros(len(summary))))
    return pd.concat(rows, ignore_index=True)


@kpi("T6.03")
def placements_against_preventive(model: Model, period: Period) -> pd.DataFrame:
    """The children's net (and on quarter rows the prognosis) by kategori, each as a share
    of the children's total in the same organisation group."""
    economy = _economy(model)
    booked = economy.slice(period.start, period.end)
    booked = booked[economy.fn_area[booked["fn"].to_numpy()] == AREA_CHILDREN]
    fn = booked["fn"].to_numpy()
    members = [pd.DataFrame({"net": booked["amount"].to_numpy(), "prognosis": 0.0,
                             "citizen": economy.citizens(booked["m"].to_numpy()), "kategori": economy.kategori(fn),
                             **_org(economy, booked["unit"].to_numpy(), model, period.end)})]
    if period.kind == "quarter":  # the prognosis is a stock on E
        expected = _prognosis_members(economy, model, period.end, children_only=True)
        members.append(expected[["amount", "citizen", "kategori", "org_area", "org_center", "org_unit"]]
                       .rename(columns={"amount": "prognosis"}).assign(net=0.0))
    summary = summarise(pd.concat(members, ignore_index=True), ("kategori",), net=("net", "sum"),
                        prognosis=("prognosis", "sum"), persons=("citizen", "nunique"))
    summary = _with_total(_with_total(summary, "net", "net_total"), "prognosis", "prognosis_total")
    rows = _money_rows(summary, {"net": "net"}) + [_share_rows(summary, "share_net", "net", "net_total")]
    if period.kind == "quarter":
        rows += _money_rows(summary, {"prognosis": "prognosis"})
        rows.append(_share_rows(summary, "share_prognosis", "prognosis", "prognosis_total"))
    return pd.concat(rows, ignore_index=True)


@kpi("T6.04")
def expensive_cases(model: Model, period: Period, params: Mapping[str, Any]) -> pd.DataFrame:
    """The costliest `percent` % of citizens with cost (prognosis for the year on E, money
    reaching them through measure and case): their number, cost, share of all cost and the
    estimated state refund by refusion.csv."""
    percent = float(params["percent"])
    if not EXPENSIVE_PERCENT_RANGE[0] <= percent <= EXPENSIVE_PERCENT_RANGE[1]:
        raise ValueError(f"T6.04 percent must be within {EXPENSIVE_PERCENT_RANGE}, not {percent}")
    economy = _economy(model)
    parts = _prognosis(economy, period.end, model)
    parts = parts[parts["m"].to_numpy() >= 0]
    m, fn = parts["m"].to_numpy(), parts["fn"].to_numpy()
    citizen = economy.measures["citizen"].to_numpy()[m]
    amount = parts["amount"].to_numpy()
    known = citizen >= 0
    citizen, amount, m, fn = citizen[known], amount[known], m[known], fn[known]
    cost_of = np.bincount(citizen, weights=amount, minlength=len(economy.citizen_keys)) if len(citizen) else np.zeros(0)
    with_cost = np.flatnonzero(np.round(cost_of * 100) > 0)
    # ranked by cost descending, then citizen key; the top ceil(N x p / 100)
    ranked = with_cost[np.lexsort((economy.citizen_keys[with_cost].astype(str), -cost_of[with_cost]))]
    selected = np.zeros(len(cost_of), dtype=bool)
    selected[ranked[:math.ceil(len(ranked) * percent / 100)]] = True
    refusion = model.ref_refusion.set_index("aar")
    year = period.end.year
    has_refusion = year in refusion.index
    refund_of = np.zeros(len(cost_of))
    if has_refusion:
        refund_of = np.where(selected, estimated_refund(cost_of, refusion.loc[year]), 0.0)
    else:  # never another year's thresholds: the refund is not available
        log.warning("refusion.csv has no row for %d: T6.04's estimated refund is not available", year)
    keep = np.round(cost_of[citizen] * 100) > 0  # citizens with cost > 0
    citizen, amount, m, fn = citizen[keep], amount[keep], m[keep], fn[keep]
    chosen = selected[citizen]
    with np.errstate(invalid="ignore", divide="ignore"):
        refund_part = np.where(chosen, refund_of[citizen] * amount / cost_of[citizen], 0.0)
    members = pd.DataFrame({
        "amount": amount, "selected_amount": np.where(chosen, amount, 0.0), "refund": refund_part,
        "selected": np.where(chosen, citizen, -1), "kategori": economy.kategori(fn),
        **_org(economy, economy.case_units(m), model, period.end, area=_labels(economy.fn_area, fn))})
    summary = summarise(members, ("kategori",), count=("selected", "positive", "selected_amount"),
                        cost=("selected_amount", "sum"), total=("amount", "sum"), refund=("refund", "sum"))
    persons = summary["count"].astype(float)
    return pd.concat([
        measure_rows(summary, "count", "count", summary["count"]),
        measure_rows(summary, "cost", DKK, summary["cost"], persons_behind=persons),
        measure_rows(summary, "share_of_total", "share", ratio(summary["cost"], summary["total"]),
                     summary["cost"].astype(float), summary["total"].astype(float), persons_behind=persons),
        measure_rows(summary, "estimated_refund", DKK,
                     summary["refund"].astype(float) if has_refusion else np.full(len(summary), np.nan),
                     persons_behind=persons),
    ], ignore_index=True)


@kpi("T6.05")
def own_against_purchased(model: Model, period: Period) -> pd.DataFrame:
    """Expense by the posting's creditor type (own, another municipality, private; Ukendt
    when none) and, under `Egen`, the revenue from places sold (art 7.1)."""
    economy = _economy(model)
    booked = economy.slice(period.start, period.end)
    booked = booked[booked["expense"] | booked["sale"]]
    fn, amount, sale = booked["fn"].to_numpy(), booked["amount"].to_numpy(), booked["sale"].to_numpy()
    supplier = np.where(sale, OWN_SUPPLIER, economy.creditors[booked["creditor"].to_numpy()]) if len(booked) else \
        np.array([], dtype=object)
    members = pd.DataFrame({
        "expense": np.where(sale, 0.0, amount), "sold": np.where(sale, -amount, 0.0),
        "citizen": economy.citizens(booked["m"].to_numpy()), "supplier_type": pd.Series(supplier, dtype="str"),
        "kategori": economy.kategori(fn), **_org(economy, booked["unit"].to_numpy(), model, period.end)})
    summary = summarise(members, CATALOG["T6.05"].breakdowns, expense=("expense", "sum"), sold=("sold", "sum"),
                        persons=("citizen", "nunique"))
    sold_rows = summary[summary["dimension"].ne("supplier_type") | summary["dimension_value"].eq(OWN_SUPPLIER)]
    return pd.concat(_money_rows(summary, {"expense": "expense"}) + _money_rows(sold_rows, {"sold_places": "sold"}),
                     ignore_index=True)


@kpi("T6.06")
def spending_per_caseworker(model: Model, period: Period) -> pd.DataFrame:
    """Net of the money reaching a case in the period (and on quarter rows the prognosis),
    per caseworker of the case (internal rows), cases with cost and the mean net per case;
    organisation through the case."""
    economy = _economy(model)
    booked = economy.slice(period.start, period.end)
    booked = booked[booked["m"].to_numpy() >= 0]
    parts = [(booked["amount"].to_numpy(), 0.0, booked["fn"].to_numpy(), booked["m"].to_numpy())]
    if period.kind == "quarter":
        expected = _prognosis(economy, period.end, model)
        expected = expected[expected["m"].to_numpy() >= 0]
        parts.append((0.0, expected["amount"].to_numpy(), expected["fn"].to_numpy(), expected["m"].to_numpy()))
    frames = []
    for net, prognosis, fn, m in parts:
        frames.append(pd.DataFrame({
            "net": net, "prognosis": prognosis, "citizen": economy.citizens(m),
            "case": economy.measure_column("case", m).astype(float),
            "caseworker": _labels(economy.caseworkers, economy.measures["caseworker"].to_numpy()[m]),
            "foranstaltningstype": economy.money_type(fn, m),
            **_org(economy, economy.case_units(m), model, period.end,
                   area=_labels(economy.areas, economy.measures["area"].to_numpy()[m]))}))
    members = pd.concat(frames, ignore_index=True)
    aggregations = {"net": ("net", "sum"), "prognosis": ("prognosis", "sum"),
                    "cases": ("case", "nonzero", "net"), "persons": ("citizen", "nunique")}
    summary = pd.concat([summarise(members, CATALOG["T6.06"].breakdowns, **aggregations),
                         summarise_org_level(members, "caseworker", "caseworker", **aggregations)],
                        ignore_index=True)
    rows = _money_rows(summary, {"net": "net"})
    rows.append(measure_rows(summary, "cases_with_cost", "count", summary["cases"]))
    rows.append(measure_rows(summary, "mean_net_per_case", DKK, ratio(summary["net"], summary["cases"]),
                             summary["net"].astype(float), summary["cases"].astype(float),
                             persons_behind=summary["persons"]))
    if period.kind == "quarter":
        rows += _money_rows(summary, {"prognosis": "prognosis"})
    return pd.concat(rows, ignore_index=True)


@kpi("T6.07")
def unit_cost(model: Model, period: Period) -> pd.DataFrame:
    """Net of the postings reaching measures of a type per measure-day of that type's active
    measures in the period, and per citizen the postings reach; organisation and kategori
    through the measure (its case's unit, the function its money is booked on)."""
    economy = _economy(model)
    booked = economy.slice(period.start, period.end)
    booked = booked[booked["m"].to_numpy() >= 0]
    m = booked["m"].to_numpy()
    measures = economy.measures
    start, end = measures["start"].to_numpy(), measures["end"].to_numpy()
    first = np.maximum(start, np.datetime64(period.start, "D"))
    last = np.minimum(np.where(np.isnat(end), _FAR, end), np.datetime64(period.end, "D"))
    days = np.where(np.isnat(start) | measures["deleted"].to_numpy(), 0.0,
                    np.maximum((last - first) / _DAY + 1, 0.0))  # a missing start is never active
    active = np.flatnonzero(days > 0)

    def members(net, days_, citizens, at: np.ndarray, fn: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({
            "net": net, "days": days_, "citizen": citizens,
            "foranstaltningstype": economy.money_type(fn, at),
            "kategori": economy.kategori(economy.measure_function[at]),
            **_org(economy, economy.case_units(at), model, period.end,
                   area=_labels(economy.areas, measures["area"].to_numpy()[at]))})

    money = members(booked["amount"].to_numpy(), 0.0, economy.citizens(m), m, booked["fn"].to_numpy())
    service_days = members(0.0, days[active], np.nan, active, np.full(len(active), len(economy.fn_label) - 1))
    summary = summarise(pd.concat([money, service_days], ignore_index=True), CATALOG["T6.07"].breakdowns,
                        net=("net", "sum"), days=("days", "sum"), citizens=("citizen", "nunique"))
    persons = summary["citizens"]
    return pd.concat([
        measure_rows(summary, "unit_cost", "dkk_per_day", ratio(summary["net"], summary["days"]),
                     summary["net"].astype(float), summary["days"].astype(float), persons_behind=persons),
        measure_rows(summary, "per_citizen", "dkk_per_citizen", ratio(summary["net"], summary["citizens"]),
                     summary["net"].astype(float), summary["citizens"].astype(float), persons_behind=persons),
    ], ignore_index=True)


# --- restricted.case_cost: Gladsaxe's caseworker overview ------------------------------------

#: The columns of `restricted.case_cost` computed here (the KPI task adds run_id and computed_at).
CASE_COST_COLUMNS = ["year", "status_date", "case_key", "source", "citizen_key", "caseworker_key", "area", "center",
                     "unit", "kategori", "net_ytd", "committed_remainder", "prognosis", "active_measures",
                     "next_deadline", "next_deadline_kind"]


#: The model tables `case_cost` reads (the KPI stage loads only what its readers declare).
CASE_COST_TABLES = frozenset({"fact_posting", "dim_measure_link", "ref_account", "dim_org", "fact_commitment",
                              "fact_plan", "fact_investigation"})


def case_cost(model: Model) -> pd.DataFrame:
    """`restricted.case_cost` (economy.md): one row per case and year, for the extraction date's
    year on the extraction date and for the year before on its 31 December, every case with
    money booked, cost committed or a measure active then. The case is pseudonymous."""
    day = model.extraction_date
    economy = _economy(model)
    years = [(day.year, day), (day.year - 1, dt.date(day.year - 1, 12, 31))]
    return pd.concat([_case_cost_year(economy, model, year, on) for year, on in years], ignore_index=True)


def _case_cost_year(economy: _Economy, model: Model, year: int, on: dt.date) -> pd.DataFrame:
    measures = economy.measures
    case_of_measure = measures["case"].to_numpy()
    n_cases = int(case_of_measure.max()) + 1 if len(case_of_measure) else 0
    parts = _prognosis(economy, on, model)
    parts = parts[parts["m"].to_numpy() >= 0]
    case = case_of_measure[parts["m"].to_numpy()]
    amount, committed = parts["amount"].to_numpy(), parts["committed"].to_numpy()
    net = np.bincount(case, np.where(committed, 0.0, amount), minlength=n_cases)
    remainder = np.bincount(case, np.where(committed, amount, 0.0), minlength=n_cases)
    start, end = measures["start"].to_numpy(), measures["end"].to_numpy()
    day = np.datetime64(on, "D")
    active = ~measures["deleted"].to_numpy() & (start <= day) & (np.isnat(end) | (end >= day))
    active_count = np.bincount(case_of_measure[active], minlength=n_cases)
    has_money = np.bincount(case, minlength=n_cases) > 0
    kept = np.flatnonzero((np.round(net * 100) != 0) | (np.round(remainder * 100) != 0) | (active_count > 0))

    # the case's own attributes, from any of its measures (they share the case)
    first = np.unique(case_of_measure, return_index=True)[1]
    link = economy.link.iloc[first[kept]]
    org = resolve_org(link["unit_code"], model.dim_org, on)
    deadline, kind = _next_deadlines(model, link["case_key"], on)
    return pd.DataFrame({
        "year": year, "status_date": pd.Timestamp(on), "case_key": link["case_pseudonym"].to_numpy(),
        "source": link["source"].to_numpy(), "citizen_key": link["citizen_key"].to_numpy(),
        "caseworker_key": link["caseworker_key"].to_numpy(), "area": link["area"].to_numpy(),
        "center": org["center"].to_numpy(), "unit": org["unit"].to_numpy(),
        "kategori": np.where(has_money[kept], _main_kategori(economy, case, parts["fn"].to_numpy(), amount,
                                                             n_cases)[kept], UNKNOWN),
        "net_ytd": net[kept], "committed_remainder": remainder[kept], "prognosis": (net + remainder)[kept],
        "active_measures": active_count[kept], "next_deadline": deadline, "next_deadline_kind": kind,
    })[CASE_COST_COLUMNS]


def _main_kategori(economy: _Economy, case: np.ndarray, fn: np.ndarray, amount: np.ndarray,
                   n_cases: int) -> np.ndarray:
    """Per case the kategori carrying the largest sum of its money (ties: the first by name)."""
    codes, labels = pd.factorize(pd.Series(economy.fn_kategori, dtype=object), sort=True)
    kategori = codes[fn]
    combined, at = np.unique(case * len(labels) + kategori, return_inverse=True)
    sums = np.bincount(at, amount, minlength=len(combined))
    order = np.lexsort((combined % len(labels), -sums, combined // len(labels)))
    best = order[np.r_[True, np.diff(combined[order] // len(labels)) != 0]] if len(order) else order
    main = np.full(n_cases, UNKNOWN, dtype=object)
    main[combined[best] // len(labels)] = np.asarray(labels, dtype=object)[combined[best] % len(labels)]
    return main


def _next_deadlines(model: Model, case_keys: pd.Series, on: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Per case: the earliest of its latest plan's (dated on or before `on`) follow-up date and
    the deadlines of its investigations open on `on` (started, not completed by then)."""
    day = pd.Timestamp(on)
    plans = model.fact_plan
    plans = plans[plans["plan_date"] <= day].sort_values(["plan_date", "plan_id"], kind="stable")
    followup = plans.drop_duplicates("case_key", keep="last").set_index("case_key")["next_followup_date"]
    open_ = model.fact_investigation
    open_ = open_[(open_["start_date"] <= day) & (open_["completed_date"].isna() | (open_["completed_date"] > day))]
    investigation = open_.groupby("case_key")["deadline_date"].min()
    plan_date = followup.reindex(case_keys).to_numpy(dtype="datetime64[s]")
    investigation_date = investigation.reindex(case_keys).to_numpy(dtype="datetime64[s]")
    plan_first = ~np.isnat(plan_date) & (np.isnat(investigation_date) | (plan_date <= investigation_date))
    deadline = np.where(plan_first, plan_date, investigation_date)
    kind = np.where(plan_first, "plan_followup", np.where(np.isnat(investigation_date), None, "investigation"))
    return deadline, kind.astype(object)
