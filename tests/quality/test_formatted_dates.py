"""The rules' date labels: each distinct date formatted once gives what strftime gives every row."""

import datetime as dt

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.quality.rules import _formatted

_MOMENTS = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), _MOMENTS, st.sampled_from([dt.datetime(2025, 1, 3), dt.datetime(2025, 1, 3, 23, 59)])),
                max_size=30),
       st.sampled_from(["%Y", "%Y-%m", "%Y-%m-%d", "%Y-%m-%d %H:%M"]))
def test_formatted_is_strftime(moments, pattern):
    dates = pd.Series(pd.array(moments, dtype="datetime64[s]"), index=range(3, 3 + len(moments)))
    pd.testing.assert_series_equal(_formatted(dates, pattern), dates.dt.strftime(pattern))
