"""etl/extract/landing_text.py: the vectorised landing text equals `to_text` value for value
(tests/extract/test_land.py checks the same against real drivers)."""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.extract.landing_text import arrow_column_text, python_column_text, to_text

COLUMNS = {
    "str": ("a", None, "", "Afgørelse", "a\x00b"),
    "int": (1, -5, None, 2**62, 0),
    "huge int": (1, 2**70),
    "bool": (True, False, None),
    "date": (dt.date(2019, 1, 2), dt.date(999, 1, 1), None, dt.date(9999, 12, 31)),
    "datetime": (dt.datetime(2025, 11, 1, 10, 11, 12), dt.datetime(2025, 11, 1, 10, 11, 12, 1), None,
                 dt.datetime(1900, 1, 1, 0, 0, 0, 500000)),
    "tz datetime": (dt.datetime(2025, 1, 1, tzinfo=dt.UTC), None),
    "decimal": (decimal.Decimal("1.5"), decimal.Decimal("-0.500"), decimal.Decimal("1E+2")),
    "float": (0.1, 1.0, 1e-7, None),
    "money": (1234.56, -0.0, 0.0, 100.0, -99.95, 999999999.99, 0.0001, None),
    "mixed (SQLite)": (1, "5", "abc", None, 2.5, True),
    "bytes": (b"ab", b"\xff"),
    "nulls": (None, None),
    "empty": (),
}


@pytest.mark.parametrize("name", COLUMNS)
def test_python_column_text_is_to_text_value_for_value(name):
    values = COLUMNS[name]
    assert python_column_text(values).to_pylist() == [to_text(v) for v in values]


@pytest.mark.parametrize("name", ["str", "int", "bool", "date", "datetime", "float", "money", "bytes", "nulls"])
def test_arrow_column_text_is_to_text_value_for_value(name):
    values = COLUMNS[name]
    array = pa.array(list(values), pa.timestamp("ns") if name == "datetime" else None)
    assert arrow_column_text(array).to_pylist() == [to_text(v) for v in values]


def test_decimals_fetched_as_driver_text_are_plain_like_python():
    array = pa.array([".5", "-.250", "1.250", None, "1E+2", "123456789.123456789"])
    got = arrow_column_text(array, pa.field("n", pa.decimal128(28, 6))).to_pylist()
    assert got == ["0.5", "-0.250", "1.250", None, "100", "123456789.123456789"]


#: Amounts as the economy holds them (whole cents), every float, and the edges of the plain range.
FLOATS = st.one_of(st.integers(-10**11, 10**11).map(lambda cents: cents / 100),
                   st.floats(allow_nan=True, allow_infinity=True),
                   st.sampled_from([1e-4, -1e-4, 9.999999999999999e-05, 1e9, 999999999.9999999, -0.0, 5e-324]))


@settings(max_examples=500, deadline=None)
@given(values=st.lists(st.one_of(st.none(), FLOATS), max_size=12))
def test_floats_are_str_value_for_value_whole_column_or_not(values):
    """`_float_text` against `str()`: Arrow's digits where both print plainly, per value where
    a value would take an exponent, and the same whichever way the column was fetched."""
    expected = [to_text(v) for v in values]
    assert arrow_column_text(pa.array(values, pa.float64())).to_pylist() == expected
    if any(v is not None for v in values):
        assert python_column_text(tuple(values)).to_pylist() == expected
