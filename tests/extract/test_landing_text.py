"""The vectorised landing text equals `to_text` value for value, and fetched blocks are
gathered into batches of the asked size (tests/postgres/test_columnar_extract.py checks the
same against real drivers)."""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from etl.extract import land as extract
from etl.extract.land import _gathered
from etl.extract.landing_text import arrow_column_text, python_column_text, to_text
from etl.sources import SOURCES

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
    "mixed (SQLite)": (1, "5", "abc", None, 2.5, True),
    "bytes": (b"ab", b"\xff"),
    "nulls": (None, None),
    "empty": (),
}


@pytest.mark.parametrize("name", COLUMNS)
def test_python_column_text_is_to_text_value_for_value(name):
    values = COLUMNS[name]
    assert python_column_text(values).to_pylist() == [to_text(v) for v in values]


@pytest.mark.parametrize("name", ["str", "int", "bool", "date", "datetime", "float", "bytes", "nulls"])
def test_arrow_column_text_is_to_text_value_for_value(name):
    values = COLUMNS[name]
    array = pa.array(list(values), pa.timestamp("ns") if name == "datetime" else None)
    assert arrow_column_text(array).to_pylist() == [to_text(v) for v in values]


def test_decimals_fetched_as_driver_text_are_plain_like_python():
    array = pa.array([".5", "-.250", "1.250", None, "1E+2", "123456789.123456789"])
    got = arrow_column_text(array, pa.field("n", pa.decimal128(28, 6))).to_pylist()
    assert got == ["0.5", "-0.250", "1.250", None, "100", "123456789.123456789"]


@pytest.mark.parametrize("block, batch_rows", [(10, 25), (25, 25), (7, 3), (30, 100)])
def test_fetched_blocks_are_gathered_into_batches_of_batch_rows(block, batch_rows):
    rows = list(range(103))
    blocks = [([pa.array(rows[i:i + block])], str(max(rows[i:i + block]))) for i in range(0, len(rows), block)]
    batches = list(_gathered(iter(blocks), batch_rows))
    assert [len(b[0][0]) for b in batches[:-1]] == [batch_rows] * (len(batches) - 1)
    assert sum((b[0][0].to_pylist() for b in batches), []) == rows
    assert max(int(b[1]) for b in batches) == 102


def test_sqlite_text_with_undecodable_bytes_is_read_again_tolerantly(tmp_path, monkeypatch):
    """SQLite is read with its fast C decoding first; undecodable TEXT fails that read and
    the table is read again with replacement (U+FFFD), so validation quarantines the row."""

    source = SOURCES["klage"]
    table = source.tables[0]
    db = sqlite3.connect(tmp_path / "klage.db")
    db.execute(f'CREATE TABLE klage ({", ".join(f"{chr(34)}{c}{chr(34)}" for c in table.column_names)})')
    row = [1, "2025-01-01", b"\xff\xfeabc", "x", "y", "z", "w", None, None, None, "2025-01-01 00:00:00"]
    db.execute(f'INSERT INTO klage VALUES ({",".join("?" * len(row))})', row)
    db.execute("UPDATE klage SET klagetype = CAST(klagetype AS TEXT)")  # undecodable bytes stored as TEXT
    db.commit()
    db.close()
    attempts = []
    land = extract._land_database_rows
    monkeypatch.setattr(extract, "_land_database_rows", lambda *a, **k: attempts.append(k["tolerant"]) or land(*a, **k))
    landed = extract.extract_database_table(source, table, f"sqlite:///{tmp_path}/klage.db", tmp_path / "landing",
                                            dt.date(2025, 11, 15))
    assert attempts == [False, True] and landed.rows == 1
    assert pq.read_table(landed.path).column("klagetype").to_pylist() == ["\ufffd\ufffdabc"]
