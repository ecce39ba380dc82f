"""Small-cell suppression for `public` output (what may be published on the website).

Primary: a count from 1 to `threshold - 1`, any rate or average resting on fewer than
`threshold` events (its denominator), any share whose numerator (given, or implied by
value x denominator) is a count from 1 to `threshold - 1`, and any amount of money (theme
6) whose `persons_behind` (the distinct citizens behind the cell, an internal column of the
KPI rows) is 1 to `threshold - 1` are blanked whole (value, numerator and denominator).
Amounts of money take part in the complementary equations below like counts.

Complementary: the published cells form linear equations an attacker can subtract in:
- a breakdown: the total (no dimension) of an org cell and its values of one dimension;
- the organisation: a center and its units, an area and its centers, SOF and its areas,
  for the same dimension value (or the total).
The total is a *member* of its equation, so a blanked total is protected too (otherwise a
total blanked in one equation would be the sum of its published parts in another). In every
equation with exactly one blanked non-zero member, the smallest other non-zero published
member is blanked too; repeated until stable, so no equation has exactly one unknown and
no blanked cell can be recovered by subtraction, even by chaining equations. Zeros are never
blanked (a zero is not a secret) and never chosen as complements (blanking a zero hides
nothing). Caseworker rows never reach `public`.

Known limit (documented in docs/security.md): the guarantee is against exact recovery by
subtraction; an attacker still learns the *sum* of the blanked cells of an equation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.core.settings import DEFAULT_SUPPRESSION_THRESHOLD as DEFAULT_THRESHOLD
from etl.core.settings import MINIMUM_SUPPRESSION_THRESHOLD as MINIMUM_THRESHOLD
from etl.core.vocabulary import UNKNOWN

# Counts below the threshold are blanked: the setting `SOFLI_SUPPRESSION_THRESHOLD`
# (Settings.suppression_threshold, default 5), never below 3 (Danmarks Statistik's minimum).
_CELL = ["kpi_id", "measure", "period_type", "period_start", "period_end"]
#: Units whose numerator counts persons or events (value = numerator / denominator).
SHARE_UNITS = ("share",)
_PARENT_LEVEL = {"unit": "center", "center": "area", "area": "sof"}
#: The KPI rows' internal count of citizens behind a cell of money (etl.kpi.aggregate).
PERSONS_BEHIND = "persons_behind"
_NA = "\x00NA"


def _check(threshold: int) -> None:
    if threshold < MINIMUM_THRESHOLD:
        raise ValueError(f"suppression threshold {threshold} is below the minimum {MINIMUM_THRESHOLD}")


def _cell_size(frame: pd.DataFrame) -> pd.Series:
    """The number of events a cell rests on: the count itself, or a rate's denominator."""
    is_count = frame["unit"].eq("count") & frame["denominator"].isna()
    return pd.to_numeric(frame["value"].where(is_count, frame["denominator"]), errors="coerce").astype(float)


def _share_numerator(frame: pd.DataFrame) -> pd.Series:
    """The count of persons/events behind a share: the numerator, else value x denominator."""
    value = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    numerator = pd.to_numeric(frame["numerator"], errors="coerce").astype(float)
    denominator = pd.to_numeric(frame["denominator"], errors="coerce").astype(float)
    implied = (value * denominator).round()
    return numerator.fillna(implied).where(frame["unit"].isin(SHARE_UNITS))


def _persons_behind(frame: pd.DataFrame) -> pd.Series:
    """The citizens behind a cell of money (theme 6's internal `persons_behind`; NaN elsewhere)."""
    if PERSONS_BEHIND not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[PERSONS_BEHIND], errors="coerce").astype(float)


def primary_mask(frame: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD) -> pd.Series:
    """Cells that are themselves small: count, denominator or share numerator in 1..threshold-1,
    or an amount of money resting on 1..threshold-1 citizens (`persons_behind`)."""
    size = _cell_size(frame)
    numerator = _share_numerator(frame)
    persons = _persons_behind(frame)
    small = (((size > 0) & (size < threshold)) | ((numerator > 0) & (numerator < threshold))
             | ((persons > 0) & (persons < threshold)))
    return small.fillna(False).astype(bool)


def _money(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """The additive amounts of money cells (their value where it is a sum, their numerator
    where it is a ratio), so blanked money is protected by complements like counts are."""
    money = _persons_behind(frame).notna()
    value = pd.to_numeric(frame["value"], errors="coerce").astype(float)
    numerator = pd.to_numeric(frame["numerator"], errors="coerce").astype(float)
    is_sum = frame["denominator"].isna() & frame["numerator"].isna()
    return value.where(money & is_sum), numerator.where(money)


def suppress_for_public(values: pd.DataFrame, dim_org: pd.DataFrame,
                        threshold: int = DEFAULT_THRESHOLD) -> pd.DataFrame:
    _check(threshold)
    out = values[values["org_level"] != "caseworker"].copy().reset_index(drop=True)
    size = _cell_size(out)
    blank = primary_mask(out, threshold).to_numpy().copy()

    members = equation_members(out, dim_org)  # columns _row, _eq
    rows = members["_row"].to_numpy()
    eq = members["_eq"].to_numpy()
    n_eq = int(eq.max()) + 1 if len(eq) else 0
    given_numerator = _share_numerator(out).where(out["numerator"].notna())
    # Each additive quantity is its own set of equations: the cell size (count or
    # denominator) and, for shares, the numerator.
    quantities = []
    sign = np.where(members["_role"].to_numpy() == "total", 1.0, -1.0)
    money_sum, money_numerator = _money(out)
    for quantity in (size.to_numpy(dtype=float)[rows], given_numerator.to_numpy(dtype=float)[rows],
                     money_sum.abs().to_numpy(dtype=float)[rows], money_numerator.abs().to_numpy(dtype=float)[rows]):
        # Where an equation's parts do not add up to its total (distinct persons counted once
        # higher up, a breakdown that leaves some out), subtraction misses a lone unknown by
        # the residual total - sum(parts); it must then miss by at least the threshold. NaN
        # (a member nobody knows) makes the equation useless to an attacker.
        residual = np.bincount(eq, weights=sign * quantity, minlength=n_eq) if n_eq else np.zeros(0)
        exploitable = np.abs(residual) < threshold
        nonzero = np.nan_to_num(quantity, nan=0.0) > 0
        if exploitable.any() and nonzero.any():
            # complement order within an equation: smallest first, then a stable row order
            quantities.append((exploitable, nonzero, np.lexsort((rows, quantity, eq))))
    while quantities:
        added = np.zeros(len(blank), dtype=bool)
        for exploitable, nonzero, order in quantities:
            hidden = blank[rows] & nonzero
            unknowns = np.bincount(eq, weights=hidden.astype(float), minlength=n_eq)
            exposed = (unknowns == 1)[eq] & exploitable[eq]  # an equation with exactly one unknown
            candidate = exposed & ~blank[rows] & nonzero
            if candidate.any():
                picked = order[candidate[order]]  # candidates sorted by (equation, quantity, row)
                first = np.unique(eq[picked], return_index=True)[1]
                added[rows[picked[first]]] = True
        if not added.any():
            break
        blank |= added
    out.loc[blank, ["value", "numerator", "denominator"]] = None
    return out


def equation_members(frame: pd.DataFrame, dim_org: pd.DataFrame) -> pd.DataFrame:
    """Which rows take part in which linear equation (total = sum of parts).

    Returns one row per (row, equation): `_row` (position in `frame`), `_eq` (equation id)
    and `_role` ("total" or "part"). The test attacker uses the same structure.
    """
    cell = pd.Series("", index=frame.index, dtype=str)
    for name in _CELL:
        cell = cell + frame[name].astype(str) + "|"
    level = frame["org_level"].astype(str)
    org = level + ":" + frame["org_key"].astype(str)
    dimension = frame["dimension"].astype(object).where(frame["dimension"].notna(), _NA).astype(str)
    dim_value = frame["dimension_value"].astype(object).where(frame["dimension_value"].notna(), _NA).astype(str)
    is_total = frame["dimension"].isna().to_numpy()
    pos = np.arange(len(frame))
    pieces = []

    # Breakdowns: the org cell's total and its values of one dimension.
    breakdown = cell + "|B|" + org + "|"
    parts = pd.DataFrame({"_row": pos[~is_total], "_key": (breakdown + dimension)[~is_total].to_numpy(),
                          "_role": "part"})
    dims = pd.DataFrame({"_org": breakdown[~is_total].to_numpy(),
                         "_dim": dimension[~is_total].to_numpy()}).drop_duplicates()
    totals = pd.DataFrame({"_row": pos[is_total], "_org": breakdown[is_total].to_numpy()}).merge(dims, on="_org")
    pieces += [parts, pd.DataFrame({"_row": totals["_row"], "_key": totals["_org"] + totals["_dim"],
                                    "_role": "total"})]

    # Organisation: a parent and its children for the same dimension value.
    parent = _parents(frame, dim_org)
    slice_key = cell + "|O|" + dimension + "|" + dim_value + "|"
    has_parent = parent.notna().to_numpy()
    parent = parent.fillna("").astype(str)
    pieces.append(pd.DataFrame({"_row": pos[has_parent], "_key": (slice_key + parent)[has_parent].to_numpy(),
                                "_role": "part"}))
    pieces.append(pd.DataFrame({"_row": pos, "_key": (slice_key + org).to_numpy(), "_role": "total"}))

    members = pd.concat(pieces, ignore_index=True)
    members["_eq"] = members.groupby("_key", sort=False).ngroup()
    # An equation needs a total and a part (a unit without children, a parent not in the frame).
    members = members[members["_eq"].isin(members.loc[members["_role"] == "part", "_eq"])
                      & members["_eq"].isin(members.loc[members["_role"] == "total", "_eq"])]
    members["_eq"] = members.groupby("_eq", sort=False).ngroup()
    return members[["_row", "_eq", "_role"]].reset_index(drop=True)


def _parents(frame: pd.DataFrame, dim_org: pd.DataFrame) -> pd.Series:
    """Each row's parent org (`level:key`, latest structure): unit->center->area->sof."""
    unit_center = dim_org.drop_duplicates("unit", keep="last").set_index("unit")["center"]
    center_area = dim_org.drop_duplicates("center", keep="last").set_index("center")["area"]
    level = frame["org_level"].astype(str)
    key = frame["org_key"]
    parent = pd.Series(None, index=frame.index, dtype=object)
    parent = parent.mask(level == "unit", "center:" + key.map(unit_center).fillna(UNKNOWN).astype(str))
    parent = parent.mask(level == "center", "area:" + key.map(center_area).fillna(UNKNOWN).astype(str))
    sof_key = frame.loc[level == "sof", "org_key"]
    parent = parent.mask(level == "area", "sof:" + (str(sof_key.iloc[0]) if len(sof_key) else "SOF"))
    return parent
