"""The BI star schema around `kpi_value`: its row keys and the dimension tables.

A Power BI model relates tables on one column each, so every KPI row carries the keys of
its dimensions (`period_key`, `org_id`, `kpi_id`, `measure`, `dimension`) and every
dimension is a table with a unique key, published with every KPI publication in the same
transaction as the facts (`etl.tasks.kpis.publish_kpis`). The relationships are in
`docs/bi-contract.md`.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from etl.core.periods import parse_quarter, quarter_bounds, shift_years
from etl.core.vocabulary import UNKNOWN
from etl.kpi.aggregate import SOF_KEY
from etl.kpi.catalog import CATALOG, DIMENSIONS, MEASURES
from etl.model import conform
from etl.model.org import resolve_org
from etl.publish.marts import (DIM_CASEWORKER, DIM_DIMENSION, DIM_KPI, DIM_MEASURE, DIM_ORG, DIM_ORG_CODE,
                               DIM_PERIOD)
from etl.report import fmt

CURRENT, TWIN = "current", "last_year_twin"
SHOWN, SUPPRESSED, NOT_AVAILABLE = "shown", "suppressed", "not_available"
#: org_level -> (Danish label, sort): the levels of kpi_value, top down.
ORG_LEVELS = {"sof": ("SOF i alt", 1), "area": ("Område", 2), "center": ("Center", 3), "unit": ("Enhed", 4),
              "caseworker": ("Sagsbehandler", 5)}
PERIOD_TYPE_LABELS = {"quarter": "Kvartal", "ytd": "År til dato (ÅTD)"}


def period_key(kind: str, start: object, end: object) -> str:
    return f"{kind}:{pd.Timestamp(start):%Y-%m-%d}:{pd.Timestamp(end):%Y-%m-%d}"


def with_bi_keys(values: pd.DataFrame) -> pd.DataFrame:
    """KPI rows with `period_key`, `comparison`, `org_id` and `value_status` (shown /
    not_available; `mark_suppressed` adds suppressed on the public copy).

    A row is a last-year twin when its period is clipped (it does not end on its quarter's
    last day) and is not the running quarter: the running quarter's same dates last year,
    which shares `period` with last year's whole quarter."""
    out = values.copy()
    start, end = pd.to_datetime(out["period_start"]), pd.to_datetime(out["period_end"])
    out["period_key"] = out["period_type"].astype(str) + ":" + start.dt.strftime("%Y-%m-%d") + ":" \
        + end.dt.strftime("%Y-%m-%d")
    whole = (end + pd.Timedelta(days=1)).dt.day.eq(1) & end.dt.month.isin([3, 6, 9, 12])
    provisional = out["provisional"].astype("boolean").fillna(False).astype(bool)
    out["comparison"] = np.where(whole | provisional, CURRENT, TWIN)
    out["org_id"] = out["org_level"].astype(str) + ":" + out["org_key"].astype(str)
    out["value_status"] = np.where(out["value"].isna(), NOT_AVAILABLE, SHOWN)
    return out


def mark_suppressed(public: pd.DataFrame) -> pd.DataFrame:
    """The public copy's status: a figure blanked by suppression is `suppressed`."""
    blanked = public["value"].isna() & public["value_status"].eq(SHOWN)
    return public.assign(value_status=public["value_status"].where(~blanked, SUPPRESSED))


def dim_period(periods: pd.DataFrame, frozen_quarters: set[str]) -> pd.DataFrame:
    """One row per period key of `periods` (distinct kpi_value rows: period_type, period,
    period_start, period_end, provisional, comparison)."""
    rows = periods.drop_duplicates("period_key") if "period_key" in periods else periods
    out = []
    for r in rows.itertuples(index=False):
        year, q = parse_quarter(r.period)
        start, end = pd.Timestamp(r.period_start).date(), pd.Timestamp(r.period_end).date()
        whole = end == quarter_bounds(year, q)[1]
        twin = r.comparison == TWIN
        name = fmt.quarter(r.period)
        if not whole:
            name += f" til {end.day}. {fmt.MONTHS[end.month - 1]}"
        label = ("ÅTD " if r.period_type == "ytd" else "") + name + (" (sidste års sammenligning)" if twin else "")
        short = ("ÅTD " if r.period_type == "ytd" else "") + fmt.quarter_short(r.period) + (
            "" if whole else f" til {end:%d.%m}") + (" (sml.)" if twin else "")
        status = ("provisional" if bool(r.provisional) else
                  "frozen" if (r.period in frozen_quarters and whole) else "closed")
        out.append({"period_key": period_key(r.period_type, start, end), "period_type": r.period_type,
                    "period": r.period, "year": year, "quarter": q, "period_start": start, "period_end": end,
                    "comparison": r.comparison, "label": label, "label_short": short,
                    "period_type_label": PERIOD_TYPE_LABELS[r.period_type],
                    "sort_key": ((year * 10 + q) * 10 + (r.period_type == "ytd")) * 10 + twin,
                    "status": status,
                    "last_year_period_key": period_key(r.period_type, shift_years(start, -1), shift_years(end, -1))})
    frame = pd.DataFrame(out, columns=DIM_PERIOD.column_names)
    present = set(frame["period_key"])
    frame["last_year_period_key"] = frame["last_year_period_key"].where(frame["last_year_period_key"].isin(present))
    return conform(frame, DIM_PERIOD)


def dim_org(organisation: pd.DataFrame, org_ids: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(dim_org, dim_org_code) from the reference organisation and the (org_level, org_key)
    the published rows name (so a name no longer in the reference still resolves)."""
    org = organisation.sort_values(["unit_code", "valid_from"])
    nodes: dict[str, dict] = {}

    def node(level: str, key: str, **fields) -> None:
        org_id = f"{level}:{key}"
        label, sort = ORG_LEVELS[level]
        base = nodes.setdefault(org_id, {"org_id": org_id, "org_level": level, "org_key": key, "org_level_label": label,
                                         "org_level_sort": sort, "parent_org_id": None, "area": None, "center": None,
                                         "unit": None, "codes": None, "valid_from": None, "valid_to": None})
        base.update({k: v for k, v in fields.items() if v is not None})

    node("sof", SOF_KEY)
    for level in ("area", "center", "unit"):
        node(level, UNKNOWN, parent_org_id=f"sof:{SOF_KEY}")
    latest = org.drop_duplicates("unit_code", keep="last")
    for level, parent in (("area", None), ("center", "area"), ("unit", "center")):
        for key, group in org.groupby(level, sort=True):
            last = latest[latest[level] == key]
            last = last.iloc[-1] if len(last) else group.iloc[-1]
            valid_to = None if group["valid_to"].isna().any() else group["valid_to"].max()
            node(level, key, parent_org_id=f"{parent}:{last[parent]}" if parent else f"sof:{SOF_KEY}",
                 area=last["area"], center=last["center"] if level != "area" else None,
                 unit=key if level == "unit" else None,
                 codes=",".join(sorted(group["unit_code"].unique())) if level == "unit" else None,
                 valid_from=group["valid_from"].min(), valid_to=valid_to)
    for r in org_ids.drop_duplicates().itertuples(index=False):
        if r.org_level in ("sof", "area", "center", "unit"):
            node(r.org_level, r.org_key)
    frame = conform(pd.DataFrame(list(nodes.values()), columns=DIM_ORG.column_names), DIM_ORG)
    codes = org.assign(org_id="unit:" + org["unit"])[DIM_ORG_CODE.column_names]
    return frame, conform(codes.reset_index(drop=True), DIM_ORG_CODE)


def dim_caseworker(cases: pd.DataFrame, organisation: pd.DataFrame, on: dt.date, keys: pd.Series) -> pd.DataFrame:
    """Each caseworker pseudonym in `keys` with the unit of their most recently opened case
    (`fact_case`, resolved on `on`); Ukendt without one."""
    cases = cases[cases["caseworker_key"].notna()].sort_values(["caseworker_key", "opened_date", "case_key"])
    last = cases.drop_duplicates("caseworker_key", keep="last")
    units = dict(zip(last["caseworker_key"], resolve_org(last["unit_code"], organisation, on)["unit"]))
    keys = pd.Series(sorted(set(keys.dropna().astype(str))), dtype=object)
    frame = pd.DataFrame({"org_id": "caseworker:" + keys, "caseworker_key": keys,
                          "unit_org_id": ["unit:" + units.get(k, UNKNOWN) for k in keys]})
    return conform(frame, DIM_CASEWORKER)


def with_unknown_caseworkers(staged: pd.DataFrame | None, keys: pd.Series) -> pd.DataFrame:
    """The night's dim_caseworker plus every other pseudonym in `keys` (a frozen version's
    caseworker no longer in tonight's model) with unit Ukendt, so every row resolves."""
    staged = staged if staged is not None else pd.DataFrame(columns=DIM_CASEWORKER.column_names)
    missing = pd.Series(sorted(set(keys.dropna().astype(str)) - set(staged["caseworker_key"])), dtype=object)
    extra = pd.DataFrame({"org_id": "caseworker:" + missing, "caseworker_key": missing,
                          "unit_org_id": f"unit:{UNKNOWN}"})
    return conform(pd.concat([staged, extra], ignore_index=True), DIM_CASEWORKER)


def dim_kpi() -> pd.DataFrame:
    rows = [{"kpi_id": d.kpi_id, "theme": d.theme, "theme_title": d.theme_title, "title": d.title,
             "description": d.description, "kpi_type": d.kpi_type, "unit": d.unit, "headline_measure": d.headline,
             "better": d.better, "sort_key": n, "implemented": d.implemented}
            for n, d in enumerate(sorted(CATALOG.values(), key=lambda d: (d.theme, d.kpi_id)), start=1)]
    return conform(pd.DataFrame(rows), DIM_KPI)


def dim_measure() -> pd.DataFrame:
    return conform(pd.DataFrame([{"measure": m, "label": label, "better": better}
                                 for m, (label, better) in sorted(MEASURES.items())]), DIM_MEASURE)


def dim_dimension() -> pd.DataFrame:
    return conform(pd.DataFrame([{"dimension": d, "label": label} for d, label in sorted(DIMENSIONS.items())]),
                   DIM_DIMENSION)


#: The star's relationships, (table, column) -> (dimension, key), the same in mart and public; a
#: NULL (the total's dimension, SOF's parent) relates to nothing.
RELATIONSHIPS: tuple[tuple[str, str, str, str], ...] = (
    ("kpi_value", "period_key", "dim_period", "period_key"),
    ("kpi_value", "org_id", "dim_org", "org_id"),
    ("kpi_value", "kpi_id", "dim_kpi", "kpi_id"),
    ("kpi_value", "measure", "dim_measure", "measure"),
    ("kpi_value", "dimension", "dim_dimension", "dimension"),
    ("kpi_value", "kpi_id", "kpi_catalog", "kpi_id"),
    ("dim_period", "last_year_period_key", "dim_period", "period_key"),
    ("dim_org", "parent_org_id", "dim_org", "org_id"),
    ("dim_org_code", "org_id", "dim_org", "org_id"),
    ("dim_kpi", "headline_measure", "dim_measure", "measure"),
)

#: The caseworker star in the schema `restricted` (issue 21), schema-qualified: its facts relate to
#: restricted.dim_caseworker for the caseworker and to mart's dimensions for everything else, so a
#: reader of restricted also needs mart (the role sofli_bi_restricted reads both).
RESTRICTED_RELATIONSHIPS: tuple[tuple[str, str, str, str], ...] = (
    ("restricted.kpi_value_caseworker", "org_id", "restricted.dim_caseworker", "org_id"),
    ("restricted.kpi_value_caseworker", "period_key", "mart.dim_period", "period_key"),
    ("restricted.kpi_value_caseworker", "kpi_id", "mart.dim_kpi", "kpi_id"),
    ("restricted.kpi_value_caseworker", "measure", "mart.dim_measure", "measure"),
    ("restricted.kpi_value_caseworker", "dimension", "mart.dim_dimension", "dimension"),
    ("restricted.dim_caseworker", "unit_org_id", "mart.dim_org", "org_id"),
)

#: The SOF tile of a KPI for a closed quarter from the warehouse alone (docs/bi-contract.md):
#: quarter and ÅTD, last year for both, the count behind, the status, SOF and per center.
SOF_TILE_SQL = """\
SELECT o.org_key, t.period_type, t.value, t.last_year_value, t.denominator, t.value_status
FROM public.kpi_tile AS t
JOIN public.dim_kpi AS k ON k.kpi_id = t.kpi_id AND k.headline_measure = t.measure
JOIN public.dim_org AS o ON o.org_id = t.org_id
JOIN public.kpi_version AS v ON v.version = t.version AND v.quarter = t.period AND v.is_current
WHERE t.kpi_id = :kpi_id AND t.period = :quarter AND o.org_level IN ('sof', 'center')
ORDER BY o.org_level_sort, o.org_key, t.period_type"""
