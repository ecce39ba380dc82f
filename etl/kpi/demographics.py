"""Age and age groups as the catalogue counts them (whole years, fixed group bounds)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from etl.core.vocabulary import UNKNOWN

#: The catalogue's age groups: (label, lowest age in the group); the last one is open.
AGE_GROUPS: tuple[tuple[str, int], ...] = (
    ("0-5", 0), ("6-11", 6), ("12-17", 12), ("18-22", 18),
    ("23-29", 23), ("30-49", 30), ("50-64", 50), ("65+", 65),
)


def age_on(birth_dates: pd.Series, on: dt.date) -> pd.Series:
    """Completed years on `on`: a birthday counts from the day itself.

    Month and day are compared as a pair, so someone born 29 February has their birthday
    on 1 March in a non-leap year (28 February is still before it). Missing birth dates
    give <NA>.
    """
    births = pd.to_datetime(birth_dates)
    birthday_not_reached = (births.dt.month * 100 + births.dt.day) > (on.month * 100 + on.day)
    years = on.year - births.dt.year - birthday_not_reached.astype(int)
    return years.astype("Int64")


def age_group(ages: pd.Series) -> pd.Series:
    """The age group label of each age; missing or negative ages (born after the date) are `Ukendt`."""
    lower_bounds = [low for _, low in AGE_GROUPS] + [np.inf]
    labels = [label for label, _ in AGE_GROUPS]
    groups = pd.cut(ages.astype("Float64").astype(float), bins=lower_bounds, labels=labels, right=False)
    return groups.astype("str").where(groups.notna(), UNKNOWN).astype("str")


def with_demographics(members: pd.DataFrame, dim_citizen: pd.DataFrame, on: dt.date) -> pd.DataFrame:
    """Add `age_group` (age on `on`), `gender` and `bydel` of each member's citizen.

    Citizens missing from `dim_citizen`, or missing a value there, get <NA>, which the
    breakdowns label `Ukendt`.
    """
    citizens = dim_citizen[["citizen_key", "birth_date", "gender", "bydel"]]
    merged = members.merge(citizens, on="citizen_key", how="left")
    return merged.assign(age_group=age_group(age_on(merged["birth_date"], on))).drop(columns="birth_date")
