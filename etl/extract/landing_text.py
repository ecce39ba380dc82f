"""The landing layer's one canonical text form of a source value, row-wise and vectorised.

Landing keeps source values as text (see `etl.extract.land`). `to_text` is the definition:
dates ISO `YYYY-MM-DD`, timestamps `YYYY-MM-DD HH:MM:SS` plus `.ffffff` only when there
are microseconds (Python's `isoformat(sep=" ")`), booleans `1`/`0`, decimals plain
(`format(d, "f")`), bytes decoded as UTF-8 with replacement, everything else `str()`.

The two vectorised paths produce exactly that text, byte for byte, without a Python call
per value where the type allows:

- `python_column_text` for a column of Python values from a DB-API cursor (SQLAlchemy):
  a column whose values are all `str`, `int`, `bool`, `date` or naive `datetime` is
  converted with pyarrow compute, a column of `float`s too (`_float_text`); any other mix
  (decimals, tz-aware timestamps, SQLite's anything-goes columns) falls back to `to_text` per
  value.
- `arrow_column_text` for a typed Arrow column fetched columnar (arrow-odbc): integers,
  dates, timestamps, booleans and floats are cast with pyarrow compute; times, binary and
  other types go through `to_text` per value (rare in the contracts).
"""

from __future__ import annotations

import datetime as dt
import decimal

import pyarrow as pa
import pyarrow.compute as pc

_NO_FRACTION = r"\.000000$"


def to_text(value) -> str | None:
    """The one canonical text form of a source value (dates ISO, bits 1/0)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _row_wise(values) -> pa.Array:
    return pa.array([to_text(v) for v in values], pa.string())


def _timestamp_text(array: pa.Array) -> pa.Array:
    """`YYYY-MM-DD HH:MM:SS[.ffffff]` like `datetime.isoformat(sep=" ")`: microseconds, and
    the fraction only when it is not zero."""
    micro = array.cast(pa.timestamp("us"), safe=False)  # Python datetimes hold microseconds
    return pc.replace_substring_regex(micro.cast(pa.string()), _NO_FRACTION, "")


def _bool_text(array: pa.Array) -> pa.Array:
    return pc.if_else(array, "1", "0")


#: Floats whose magnitude is 0 or in [1e-4, 1e9): Python's `str()` and Arrow's cast both print
#: their shortest round-trip digits without an exponent there (Python switches to one below
#: 1e-4 and from 1e16, Arrow by the number of digits: 1.2345678901234567e+14).
_PLAIN_FLOATS = (1e-4, 1e9)


def _float_text(array: pa.Array) -> pa.Array:
    """`str()` of each float: Arrow's cast prints the same shortest round-trip digits as
    Python's repr, and a whole number without Python's `.0`, which is added. Where a value
    would take an exponent (or is NaN or infinite), or is a billion or more, the column goes
    per value instead (the two print exponents differently): the same text either way, and a
    posting's amount is hardly ever there. (Copenhagen's 1.58 M amounts took 1.9 s value by
    value, national's ten times that; docs/performance.md "Round 13".)"""
    values = array.cast(pa.float64())
    magnitude = pc.abs(values)
    plain = pc.or_(pc.equal(values, 0.0), pc.and_(pc.greater_equal(magnitude, _PLAIN_FLOATS[0]),
                                                  pc.less(magnitude, _PLAIN_FLOATS[1])))
    if not pc.all(pc.fill_null(plain, True)).as_py():
        return _row_wise(values.to_pylist())
    text = values.cast(pa.string())
    whole = pc.invert(pc.match_substring(text, "."))
    return pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)


def python_column_text(values) -> pa.Array:
    """Text of one column of Python values (a tuple or list from a DB-API cursor)."""
    kinds = {type(v) for v in values}
    kinds.discard(type(None))
    if not kinds:
        return pa.nulls(len(values), pa.string())
    if kinds == {str}:
        return pa.array(values, pa.string())
    if kinds == {int}:
        try:
            return pa.array(values, pa.int64()).cast(pa.string())
        except OverflowError:  # beyond 64 bits: Python's own digits
            return _row_wise(values)
    if kinds == {bool}:
        return _bool_text(pa.array(values, pa.bool_()))
    if kinds == {float}:
        return _float_text(pa.array(values, pa.float64()))
    if kinds == {dt.date}:
        return pa.array(values, pa.date32()).cast(pa.string())
    if kinds == {dt.datetime} and all(v.tzinfo is None for v in values if v is not None):
        return _timestamp_text(pa.array(values, pa.timestamp("us")))
    return _row_wise(values)


def arrow_fetch_type(field: pa.Field) -> pa.Field:
    """The type to fetch a column as (arrow-odbc `map_schema`), so no value is rounded:
    floats as 64-bit (drivers report `double precision` as 32-bit), decimals as the
    driver's text (a `numeric` without scale is reported as scale 6 and would be cut)."""
    if pa.types.is_floating(field.type):
        return field.with_type(pa.float64())
    if pa.types.is_decimal(field.type):
        return field.with_type(pa.string())
    return field


def arrow_column_text(array: pa.Array, fetched_as: pa.Field | None = None) -> pa.Array:
    """Text of one typed Arrow column. `fetched_as` says a string column holds decimals
    as the driver's text: normalised the way `format(Decimal(text), "f")` renders it."""
    kind = array.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if fetched_as is not None and pa.types.is_decimal(fetched_as.type):
            return _decimal_text(array)
        return array.cast(pa.string())
    if pa.types.is_null(kind):
        return pa.nulls(len(array), pa.string())
    if pa.types.is_integer(kind) or pa.types.is_date32(kind):
        return array.cast(pa.string())
    if pa.types.is_timestamp(kind) and kind.tz is None:
        return _timestamp_text(array)
    if pa.types.is_boolean(kind):
        return _bool_text(array)
    if pa.types.is_floating(kind):
        return _float_text(array)
    return _row_wise(array.to_pylist())


def _decimal_text(array: pa.Array) -> pa.Array:
    """Decimal text from a driver as Python's plain form: `.5` → `0.5` (SQL Server), and
    anything not plain digits (exponents, `NaN`) through `Decimal` per value."""
    text = array.cast(pa.string())
    text = pc.replace_substring_regex(text, r"^(-?)\.", r"\10.")
    plain = pc.match_substring_regex(text, r"^-?[0-9]+(\.[0-9]+)?$")
    if pc.all(pc.fill_null(plain, True)).as_py():
        return text
    return _row_wise([None if v is None else decimal.Decimal(v.strip()) for v in text.to_pylist()])
