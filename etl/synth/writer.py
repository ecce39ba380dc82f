"""Writing a database source's tables to any SQLAlchemy URL.

Tables are created from the `TableSpec`s with SQLAlchemy Core, so the same generator
fills SQLite for a newcomer and PostgreSQL or SQL Server for integration tests. SQLite
takes a fast path (executemany through the DBAPI connection) that stores values exactly
as SQLAlchemy's SQLite types would; every other dialect gets plain Core inserts. A table
can arrive in chunks (the postings of the national profile are tens of millions of rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Engine,
    Float,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
)

from etl.core.tables import Column as SpecColumn
from etl.core.tables import TableSpec
from etl.sources.base import Source

CHUNK_ROWS = 10_000
SQLITE_CHUNK_ROWS = 200_000  # bounds the Python objects alive at once
SQL_TYPES = {
    "int": Integer,
    "str": lambda: String(255),
    "date": Date,
    "datetime": DateTime,
    "bool": Boolean,
    "decimal": lambda: Numeric(5, 3),
    "float": Float,
}


def sql_type(column: SpecColumn):
    """The SQLAlchemy type of a contract column: the contract's declared `bigint` or
    `decimal(p,s)` where it has one; CPR numbers stored as numbers need 64 bits."""
    if column.type == "int" and (column.personal or column.sql_type == "bigint"):
        return BigInteger()
    if column.decimal_digits:
        return Numeric(*column.decimal_digits)
    return SQL_TYPES[column.type]()


def table_for(spec: TableSpec, metadata: MetaData) -> Table:
    return Table(spec.name, metadata, *(
        Column(c.name, sql_type(c), primary_key=c.name in spec.primary_key, nullable=c.nullable,
               autoincrement=False)
        for c in spec.columns
    ))


Frames = pd.DataFrame | Iterable[pd.DataFrame]


def write_source(url: str, source: Source, frames: Mapping[str, Frames]) -> dict[str, int]:
    """Drop and recreate the source's tables at `url` and fill them from `frames`; returns
    the rows written per table.

    A table's value is a frame or an iterable of frames (chunks, in key order), so a table
    larger than memory is written as it is generated. Tables are written in the contract's
    order and an iterable is consumed only when its table's turn comes.
    """
    engine = create_engine(url)
    try:
        metadata = MetaData()
        tables = {spec.name: table_for(spec, metadata) for spec in source.tables}
        metadata.drop_all(engine)
        metadata.create_all(engine)
        insert = insert_sqlite if engine.dialect.name == "sqlite" else insert_portable
        return {spec.name: insert(engine, tables[spec.name], spec, frames[spec.name]) for spec in source.tables}
    finally:
        engine.dispose()


def _chunks(frames: Frames) -> Iterator[pd.DataFrame]:
    return iter((frames,)) if isinstance(frames, pd.DataFrame) else iter(frames)


def insert_portable(engine: Engine, table: Table, spec: TableSpec, frames: Frames) -> int:
    """Core inserts of Python values in chunks, in one transaction: works on every dialect."""
    rows = 0
    with engine.begin() as conn:
        for frame in _chunks(frames):
            columns = {c.name: _python_values(frame[c.name], c.type) for c in spec.columns}
            names = list(columns)
            for start in range(0, len(frame), CHUNK_ROWS):
                batch = zip(*(columns[n][start:start + CHUNK_ROWS] for n in names))
                conn.execute(table.insert(), [dict(zip(names, row)) for row in batch])
            rows += len(frame)
    return rows


def insert_sqlite(engine: Engine, table: Table, spec: TableSpec, frames: Frames) -> int:
    """executemany of tuples, in one transaction, with dates and timestamps formatted the way
    SQLAlchemy's SQLite types store them (`YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS.ffffff`)."""
    statement = str(table.insert().compile(dialect=engine.dialect))
    rows = 0
    with engine.begin() as conn:
        cursor = conn.connection.driver_connection.cursor()
        for frame in _chunks(frames):
            for start in range(0, len(frame), SQLITE_CHUNK_ROWS):
                chunk = frame.iloc[start:start + SQLITE_CHUNK_ROWS]
                cursor.executemany(statement, zip(*(_sqlite_values(chunk[c.name], c.type) for c in spec.columns)))
            rows += len(frame)
    return rows


def _python_values(values: pd.Series, logical_type: str) -> list:
    missing = values.isna().to_numpy()
    if logical_type == "date":
        out = pd.Series(values.to_numpy().astype("datetime64[D]").astype(object))
    elif logical_type == "datetime":
        out = pd.Series(values.to_numpy().astype("datetime64[us]").astype(object))
    elif logical_type == "decimal":
        out = values.map(lambda v: Decimal(str(v)))
    elif logical_type == "bool":
        out = values.astype(object).map(bool)
    else:
        out = values.astype(object)
    return [None if m else v for m, v in zip(missing, out)]


def _sqlite_values(values: pd.Series, logical_type: str) -> list:
    missing = values.isna().to_numpy()
    if logical_type == "date":
        text = np.datetime_as_string(values.to_numpy().astype("datetime64[D]"), unit="D")
        out = text.astype(object)
    elif logical_type == "datetime":
        text = pd.Series(np.datetime_as_string(values.to_numpy().astype("datetime64[us]"), unit="us"))
        out = text.str.replace("T", " ", regex=False).to_numpy(dtype=object, copy=True)
    elif logical_type == "bool":
        out = values.to_numpy(dtype="int64", na_value=0).astype(object)
    elif logical_type in ("decimal", "float"):
        out = values.to_numpy(dtype=float, na_value=np.nan).astype(object)
    elif logical_type == "int":
        out = values.to_numpy(dtype="int64", na_value=0).astype(object)
    else:
        out = values.to_numpy(dtype=object, copy=True)
    out[missing] = None
    return out.tolist()
