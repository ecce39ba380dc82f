"""Resolving raw unit codes to the Ét SOF organisation at a date."""

from __future__ import annotations

import datetime as dt

import pandas as pd

UNKNOWN = "Ukendt"


def resolve_org(unit_codes: pd.Series, dim_org: pd.DataFrame, on: dt.date) -> pd.DataFrame:
    """Unit, center and area of each code on date `on` (historical structure).

    Returns a frame aligned with `unit_codes` (same index) with columns `unit`, `center`,
    `org_area`; codes unknown to the reference (or not valid on `on`) are `Ukendt`.
    Pass the latest date to restate history on the current structure.
    """
    day = pd.Timestamp(on)
    valid = dim_org[(dim_org["valid_from"] <= day)
                    & (dim_org["valid_to"].isna() | (dim_org["valid_to"] >= day))]
    valid = valid.drop_duplicates("unit_code", keep="last").set_index("unit_code")
    out = pd.DataFrame(index=unit_codes.index)
    for target, source in (("unit", "unit"), ("center", "center"), ("org_area", "area")):
        out[target] = unit_codes.map(valid[source]).fillna(UNKNOWN).astype(str)
    return out


def current_structure(dim_org: pd.DataFrame) -> pd.DataFrame:
    """The organisation restated on its newest structure: each code's latest row, valid
    for all time. KPIs computed on a model with this `dim_org` show last year's figures
    on today's units and centers (asked-for restatement); the default keeps history."""
    latest = dim_org.sort_values(["unit_code", "valid_from"]).drop_duplicates("unit_code", keep="last")
    return latest.assign(valid_from=pd.Timestamp("1900-01-01"), valid_to=pd.NaT).reset_index(drop=True)
