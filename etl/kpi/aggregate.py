"""From KPI members to `mart.kpi_value` rows, at every organisation level and breakdown.

A KPI function selects its *members* (the citizens, decisions, notifications … that
count, one row per member and organisational placement) and hands them here. Every
figure is recomputed from the members at each level: distinct counts are `nunique` per
group, never sums of lower levels, because one citizen active in two units counts once
in the center and once in SOF.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from etl.marts import KPI_VALUE
from etl.model import empty_frame
from etl.model.org import UNKNOWN, resolve_org
from etl.periods import Period

SOF_KEY = "SOF"

#: (org_level, column of the members frame holding its key); `sof` is one constant key.
ORG_LEVELS: tuple[tuple[str, str | None], ...] = (
    ("sof", None), ("area", "org_area"), ("center", "org_center"), ("unit", "org_unit"),
)

#: The columns a KPI computes; the pipeline adds provisional, version, run_id and computed_at.
PIPELINE_COLUMNS = ("provisional", "version", "run_id", "computed_at")
KPI_ROW_COLUMNS = [c for c in KPI_VALUE.column_names if c not in PIPELINE_COLUMNS]
_KPI_ROW_DTYPES = empty_frame(KPI_VALUE).dtypes[KPI_ROW_COLUMNS]

#: What a KPI function returns: its figures without the kpi id and period columns.
MEASURE_COLUMNS = ["measure", "org_level", "org_key", "dimension", "dimension_value",
                   "value", "numerator", "denominator", "unit"]


def in_period(dates: pd.Series, period: Period) -> pd.Series:
    """Flow membership: the date (of a date or timestamp) lies in [S, E], both ends included."""
    days = dates.dt.normalize()
    return (days >= pd.Timestamp(period.start)) & (days <= pd.Timestamp(period.end))


def active_on(starts: pd.Series, ends: pd.Series, day: dt.date) -> pd.Series:
    """Stock membership: start <= day and (end is null or end >= day), on dates.

    A missing start compares False, so such rows are never active.
    """
    status_date = pd.Timestamp(day)
    return (starts.dt.normalize() <= status_date) & (ends.isna() | (ends.dt.normalize() >= status_date))


def flag_label(flags: pd.Series) -> pd.Series:
    """Booleans as the breakdown labels `true` / `false` (`Ukendt` when missing)."""
    labels = flags.astype("boolean").map({True: "true", False: "false"})
    return labels.where(flags.notna(), UNKNOWN).astype("str")


def with_org(frame: pd.DataFrame, dim_org: pd.DataFrame, on: dt.date,
             area_column: str | None = "area") -> pd.DataFrame:
    """Add `org_area`, `org_center`, `org_unit` from the frame's `unit_code` on date `on`.

    The area is the fact's own `area_column` (the system's area) where the fact has one,
    so a case with an unknown unit code keeps its area and only center and unit become
    `Ukendt`; without one (HR) it is the area of the resolved unit.
    """
    org = resolve_org(frame["unit_code"], dim_org, on)
    area = frame[area_column] if area_column else org["org_area"]
    return frame.assign(org_area=area.astype("str"), org_center=org["center"], org_unit=org["unit"])


def _as_codes(values: pd.Series) -> pd.Series:
    """Integer codes standing in for the values (NaN for missing), so that `nunique`
    over millions of string keys does not re-hash the strings for every group."""
    codes, _ = pd.factorize(values)
    return pd.Series(np.where(codes >= 0, codes, np.nan), index=values.index)


def summarise(members: pd.DataFrame, breakdowns: tuple[str, ...],
              **aggregations: tuple[str, str]) -> pd.DataFrame:
    """Named aggregations per org level × org key × (total, then each breakdown's values).

    `aggregations` map an output name to (column, "nunique" | "sum"), e.g.
    `value=("citizen_key", "nunique")`. Missing breakdown values are labelled `Ukendt`.
    The SOF total is always present, with 0 for every aggregation when there are no
    members; other groups exist only where members do (an absent group reads as 0).
    """
    # Group keys as categoricals and distinct-count keys as integer codes: prepared once,
    # reused by every level and breakdown.
    prepared = pd.DataFrame({"sof": pd.Categorical([SOF_KEY] * len(members))}, index=members.index)
    for column in [key_column for _, key_column in ORG_LEVELS if key_column] + list(breakdowns):
        prepared[column] = members[column].astype("str").fillna(UNKNOWN).astype("category")
    for name, (column, func) in aggregations.items():
        prepared[name] = _as_codes(members[column]) if func == "nunique" else members[column]

    pieces = []
    for level, key_column in ORG_LEVELS:
        key = key_column or "sof"
        for dimension in (None, *breakdowns):
            groups = prepared.groupby([key] if dimension is None else [key, dimension], observed=True)
            grouped = pd.DataFrame({name: groups[name].agg(func)
                                    for name, (_, func) in aggregations.items()}).reset_index()
            grouped = grouped.rename(columns={key: "org_key", dimension: "dimension_value"})
            if dimension is None:
                grouped["dimension_value"] = None
            pieces.append(grouped.assign(org_level=level, dimension=dimension))
    summary = pd.concat(pieces, ignore_index=True)
    sof_total = (summary["org_level"] == "sof") & summary["dimension"].isna()
    if not sof_total.any():
        zero_total = {"org_level": "sof", "org_key": SOF_KEY, "dimension": None,
                      "dimension_value": None, **{name: 0 for name in aggregations}}
        summary = pd.concat([summary, pd.DataFrame([zero_total])], ignore_index=True)
    return summary


def ratio(numerator: pd.Series, denominator: pd.Series) -> np.ndarray:
    """numerator / denominator as floats, NaN (NULL) where the denominator is 0."""
    num = numerator.to_numpy(dtype=float, na_value=np.nan)
    den = denominator.to_numpy(dtype=float, na_value=np.nan)
    return np.divide(num, den, out=np.full(len(num), np.nan), where=den != 0)


def measure_rows(summary: pd.DataFrame, measure: str, unit: str, value: pd.Series | np.ndarray,
                 numerator: pd.Series | None = None, denominator: pd.Series | None = None) -> pd.DataFrame:
    """One measure's rows from a `summarise` result: value, and for rates and means the
    numerator and denominator they came from."""
    rows = summary[["org_level", "org_key", "dimension", "dimension_value"]].assign(
        measure=measure, unit=unit, value=value,
        numerator=np.nan if numerator is None else numerator,
        denominator=np.nan if denominator is None else denominator)
    return rows[MEASURE_COLUMNS]


def count_rows(members: pd.DataFrame, entity: str, breakdowns: tuple[str, ...],
               measure: str = "count") -> pd.DataFrame:
    """Distinct `entity` per group (an event key counts events, a citizen key counts citizens)."""
    summary = summarise(members, breakdowns, value=(entity, "nunique"))
    return measure_rows(summary, measure, "count", summary["value"])


def share_rows(members: pd.DataFrame, entity: str, numerator: str, denominator: str,
               breakdowns: tuple[str, ...], measure: str = "share") -> pd.DataFrame:
    """Share of distinct `entity` in the boolean column `numerator` among those in `denominator`.

    Groups come from all members, so a group whose members all fall outside the
    denominator still has its row, with numerator 0, denominator 0 and value NULL.
    """
    marked = members.assign(
        _in_numerator=members[entity].where(members[numerator] & members[denominator]),
        _in_denominator=members[entity].where(members[denominator]))
    summary = summarise(marked, breakdowns, numerator=("_in_numerator", "nunique"),
                        denominator=("_in_denominator", "nunique"))
    return measure_rows(summary, measure, "share", ratio(summary["numerator"], summary["denominator"]),
                        summary["numerator"], summary["denominator"])


def kpi_value_rows(rows: pd.DataFrame, kpi_id: str, period: Period) -> pd.DataFrame:
    """Stamp a KPI function's rows with its id and period: the `mart.kpi_value` columns
    the KPI layer owns, in contract order and dtypes."""
    stamped = rows.assign(kpi_id=kpi_id, period_type=period.kind, period=period.label,
                          period_start=pd.Timestamp(period.start), period_end=pd.Timestamp(period.end))
    return stamped[KPI_ROW_COLUMNS].astype(_KPI_ROW_DTYPES).reset_index(drop=True)
