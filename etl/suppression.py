"""Small-cell suppression for `public` output (what may be published on the website).

Primary: a count from 1 to `threshold - 1` and any rate or average resting on fewer than
`threshold` events are blanked. Complementary: where a group (a breakdown against its
total, or the units of one center) has exactly one blanked cell, the smallest other
non-zero published cell of the group is blanked too, so no blanked cell can be recovered
by subtracting the published cells from a published total. Repeated until stable.
Caseworker rows never reach `public`.
"""

from __future__ import annotations

import pandas as pd

#: Counts below this are blanked; configurable, never below 3 (Danmarks Statistik's minimum).
DEFAULT_THRESHOLD = 5
MINIMUM_THRESHOLD = 3
_CELL = ["kpi_id", "measure", "period_type", "period_start", "period_end"]


def _cell_size(frame: pd.DataFrame) -> pd.Series:
    """The number of events a cell rests on: the count itself, or a rate's denominator."""
    is_count = frame["unit"].eq("count") & frame["denominator"].isna()
    return frame["value"].where(is_count, frame["denominator"])


def suppress_for_public(values: pd.DataFrame, dim_org: pd.DataFrame,
                        threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    if threshold < MINIMUM_THRESHOLD:
        raise ValueError(f"suppression threshold {threshold} is below the minimum {MINIMUM_THRESHOLD}")
    out = values[values["org_level"] != "caseworker"].copy().reset_index(drop=True)
    size = _cell_size(out)
    blank = (size > 0) & (size < threshold)
    blank = blank.fillna(False).astype(bool)

    out = _attach_parents(out, dim_org)
    groups = (
        # a breakdown's values, which add up to their total at the same org cell
        (_CELL + ["org_level", "org_key", "dimension"], out["dimension"].notna()),
        # the units of one center (the centers of one area), for the same breakdown value
        (_CELL + ["org_level", "dimension", "dimension_value", "_parent"], out["org_level"].isin(["unit", "center"])),
    )
    while True:
        added = pd.Series(False, index=out.index)
        for keys, in_group in groups:
            members = out.assign(_size=size, _blank=blank)[in_group]
            blanked = members.groupby(keys, dropna=False)["_blank"].transform("sum")
            candidates = members[(blanked == 1) & ~members["_blank"] & (members["_size"] > 0)]
            smallest = candidates.sort_values("_size").groupby(keys, dropna=False).head(1).index
            added.loc[smallest] = True
        added &= ~blank
        if not added.any():
            break
        blank |= added
    out.loc[blank, ["value", "numerator", "denominator"]] = None
    return out.drop(columns=["_parent"])


def _attach_parents(frame: pd.DataFrame, dim_org: pd.DataFrame) -> pd.DataFrame:
    """Each unit's center and each center's area (latest structure), to group siblings."""
    unit_center = dim_org.drop_duplicates("unit", keep="last").set_index("unit")["center"]
    center_area = dim_org.drop_duplicates("center", keep="last").set_index("center")["area"]
    parent = frame["org_level"].astype(str)
    parent = parent.mask(frame["org_level"] == "unit", "center:" + frame["org_key"].map(unit_center).fillna("Ukendt"))
    parent = parent.mask(frame["org_level"] == "center", "area:" + frame["org_key"].map(center_area).fillna("Ukendt"))
    frame["_parent"] = parent
    return frame
