"""Age in whole years (birthdays, 29 February) and the catalogue's age groups."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.kpi.demographics import age_group, age_on, with_demographics


def births(*days):
    return pd.Series(pd.to_datetime(list(days))).astype("datetime64[s]")


@pytest.mark.parametrize(("born", "on", "age"), [
    ("2010-05-15", dt.date(2025, 5, 14), 14),   # the day before the birthday
    ("2010-05-15", dt.date(2025, 5, 15), 15),   # on the birthday
    ("2008-02-29", dt.date(2024, 2, 28), 15),   # leap year: birthday is the 29th
    ("2008-02-29", dt.date(2024, 2, 29), 16),
    ("2008-02-29", dt.date(2025, 2, 28), 16),   # non-leap year: 28 Feb is before the birthday
    ("2008-02-29", dt.date(2025, 3, 1), 17),    # ... which falls on 1 March
    ("2007-12-31", dt.date(2025, 1, 1), 17),
])
def test_age_in_whole_years(born, on, age):
    assert age_on(births(born), on).tolist() == [age]


def test_missing_birth_date_has_no_age():
    assert age_on(births(None, "2000-01-01"), dt.date(2025, 1, 1)).tolist() == [pd.NA, 25]


def test_age_group_bounds():
    ages = pd.Series([0, 5, 6, 11, 12, 17, 18, 22, 23, 29, 30, 49, 50, 64, 65, 101, None, -1], dtype="Int64")
    assert age_group(ages).tolist() == [
        "0-5", "0-5", "6-11", "6-11", "12-17", "12-17", "18-22", "18-22", "23-29", "23-29",
        "30-49", "30-49", "50-64", "50-64", "65+", "65+", "Ukendt", "Ukendt"]


def test_with_demographics_unknown_citizen():
    citizens = pd.DataFrame({"citizen_key": ["c1"], "birth_date": births("2019-09-30"),
                             "gender": ["K"], "bydel": ["Valby"]})
    out = with_demographics(pd.DataFrame({"citizen_key": ["c1", "c2"]}), citizens, dt.date(2025, 9, 30))
    assert out["age_group"].tolist() == ["6-11", "Ukendt"]
    assert out["gender"].tolist()[0] == "K" and pd.isna(out["gender"].tolist()[1])
