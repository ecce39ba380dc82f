"""etl/extract/land.py: database tables and drop files to landing Parquet (text) + manifest.

Database extraction is checked the three ways it can read a PostgreSQL table: columnar
through arrow-odbc + psqlODBC (the default), row-wise through pyodbc (`SOFLI_ODBC_FETCH=rows`,
the path before arrow-odbc) and SQLAlchemy + psycopg2. Every landed value must be identical
text, for every table of the generated sources, for an incremental window (bound
parameters) and for edge values of every type the drivers return; rows stream batch by
batch. Without a server: fetched blocks are gathered into batches, SQLite text that does
not decode is read again tolerantly, and a missing contract column fails loudly.
The scenarios that run nights and the whole chain through ODBC are in tests/integration/.
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from types import SimpleNamespace

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from etl.extract import land as extract
from etl.extract import odbc
from etl.extract.incremental import ExtractPlan
from etl.extract.land import ExtractError, _database_batches, _gathered, extract_database_table, extract_table
from etl.extract.landing_text import to_text
from etl.sources import SOURCES, get_source
from etl.synth import generate

DAY = dt.date(2025, 11, 15)
DATABASE_SOURCES = [name for name, s in SOURCES.items() if s.kind == "database"]
BARN_SOURCE = get_source("boern")
BARN = BARN_SOURCE.table("Barn")


# --- three ways through PostgreSQL, the same text ---------------------------------------

def odbc_location(postgres, database: str, **options: str) -> str:
    return odbc.PREFIX + odbc.connection_string("PostgreSQL Unicode", postgres.url.host, postgres.url.port,
                                                database, postgres.url.username, **options)


@pytest.fixture(scope="module")
def databases(postgres, tmp_path_factory):
    urls = {name: postgres.new_database(f"columnar_src_{name}") for name in DATABASE_SOURCES}
    generate(tmp_path_factory.mktemp("columnar") / "sources", "demo", seed=5, extraction_date=DAY, db_urls=urls)
    return urls


def land(monkeypatch, tmp_path, through: str, postgres, urls, name, table, plan=None, batch_rows=1000):
    location = urls[name] if through == "sqlalchemy" else odbc_location(postgres, f"columnar_src_{name}")
    landed = extract_database_table(SOURCES[name], table, location, tmp_path / through, DAY,
                                    batch_rows=batch_rows, plan=plan, odbc_fetch="rows" if through == "rows" else "arrow")
    return landed, pq.read_table(landed.path)


@pytest.mark.postgres
@pytest.mark.integration
def test_every_generated_table_lands_identical_text_columnar_and_row_wise(databases, postgres, tmp_path,
                                                                           monkeypatch):
    compared = 0
    for name in DATABASE_SOURCES:
        for table in SOURCES[name].tables:
            arrow_landed, arrow_rows = land(monkeypatch, tmp_path, "arrow", postgres, databases, name, table)
            for through in ("rows", "sqlalchemy"):
                landed, rows = land(monkeypatch, tmp_path, through, postgres, databases, name, table)
                assert rows.schema == arrow_rows.schema, f"{name}.{table.name} via {through}"
                assert rows.equals(arrow_rows), f"{name}.{table.name} via {through}"
                assert (landed.rows, landed.watermark) == (arrow_landed.rows, arrow_landed.watermark)
            compared += arrow_landed.rows
    assert compared > 10_000


@pytest.mark.postgres
@pytest.mark.integration
def test_an_incremental_window_stays_bound_and_lands_identical_text(databases, postgres, tmp_path, monkeypatch):
    name, table = "klage", SOURCES["klage"].tables[0]
    full, _ = land(monkeypatch, tmp_path / "full", "arrow", postgres, databases, name, table)
    high = dt.datetime.fromisoformat(full.watermark)
    plan = ExtractPlan("incremental", "test", DAY.isoformat(), (high - dt.timedelta(days=20)).isoformat(sep=" "),
                       (high + dt.timedelta(seconds=1)).isoformat(sep=" "), DAY.isoformat())
    arrow_landed, arrow_rows = land(monkeypatch, tmp_path, "arrow", postgres, databases, name, table, plan)
    rows_landed, rows = land(monkeypatch, tmp_path, "rows", postgres, databases, name, table, plan)
    assert 0 < arrow_landed.rows < full.rows and rows.equals(arrow_rows)
    assert arrow_landed.watermark == rows_landed.watermark == full.watermark
    assert min(arrow_rows.column(table.watermark).to_pylist()) >= plan.since


@pytest.mark.postgres
@pytest.mark.integration
def test_a_hostile_window_value_is_bound_never_formatted(databases, postgres, tmp_path, monkeypatch):
    table = SOURCES["klage"].tables[0]
    plan = ExtractPlan("incremental", "test", DAY.isoformat(), "2025-01-01 00:00:00' OR '1'='1", "2026-01-01 00:00:00",
                       DAY.isoformat())
    monkeypatch.setattr(ExtractPlan, "window", property(lambda p: {"since": p.since, "until": p.until}))
    with pytest.raises(extract.ExtractError, match="klage.klage"):  # not a timestamp: the server refuses it
        land(monkeypatch, tmp_path, "arrow", postgres, databases, "klage", table, plan)


EDGE = """
CREATE TABLE edge (id int PRIMARY KEY, n numeric, n53 numeric(5,3), r double precision, f real, b boolean,
                   d date, ts timestamp, tm time, s varchar(255), t text, big bigint, z smallint);
INSERT INTO edge VALUES
 (1, 1.5, 1.250, 0.1, 0.1, true, '2019-01-02', '2025-11-01 10:11:12', '10:11:12.5', 'Afgørelse ÆØÅ æøå',
  repeat('ø', 3000), 3101012345, -3),
 (2, 123456789.123456789, -0.5, 1e300, -2.5, false, '0999-01-01', '2025-11-01 10:11:12.000001', '00:00',
  '', '', -9223372036854775808, 0),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, -0.000001, 0, 3, 1e-7, true, '9999-12-31', '1900-01-01 00:00:00.5', '23:59:59.999999',
  '''; DROP TABLE edge; --', E'tab\\there', 0, 32767)
"""


@pytest.mark.postgres
@pytest.mark.integration
@pytest.mark.parametrize("batch_rows", [1, 3, 1000])
def test_edge_values_of_every_type_are_the_same_text_columnar_and_row_wise(postgres, monkeypatch, batch_rows):
    url = postgres.new_database("columnar_edge")
    postgres_db = postgres.url.set(database="columnar_edge")

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(EDGE)
    engine.dispose()
    spec = SimpleNamespace(name="edge", column_names=["id"], watermark="ts")
    sql = "SELECT * FROM edge ORDER BY id"

    def landed(location: str, mode: str) -> tuple[list[list], list]:
        with _database_batches(location, spec, sql, {}, batch_rows, columnar=mode == "arrow") as (names, _added,
                                                                                                 batches):
            batches = list(batches)
        columns = [sum((b[0][i].to_pylist() for b in batches), []) for i in range(len(names))]
        assert all(a.type == pa.string() for b in batches for a in b[0])
        return columns, [b[1] for b in batches]

    location = odbc_location(postgres, "columnar_edge")
    arrow_columns, arrow_marks = landed(location, "arrow")
    rows_columns, rows_marks = landed(location, "rows")
    alchemy_columns, _ = landed(postgres_db.render_as_string(hide_password=False), "arrow")
    assert arrow_columns == rows_columns
    assert arrow_marks == rows_marks and max(m for m in arrow_marks if m) == "2025-11-01 10:11:12.000001"
    by_name = dict(zip(["id", "n", "n53", "r", "f", "b", "d", "ts", "tm", "s", "t", "big", "z"], arrow_columns))
    assert by_name["n"][:2] == ["1.5", "123456789.123456789"] and by_name["n53"][:2] == ["1.250", "-0.500"]
    assert by_name["r"][:2] == [to_text(0.1), to_text(1e300)] and by_name["b"] == ["1", "0", None, "1"]
    assert by_name["ts"] == ["2025-11-01 10:11:12", "2025-11-01 10:11:12.000001", None, "1900-01-01 00:00:00.500000"]
    assert by_name["d"] == ["2019-01-02", "0999-01-01", None, "9999-12-31"] and by_name["t"][0] == "ø" * 3000
    # psycopg2 returns booleans as bool and double precision exactly as pyodbc does: same text too,
    # except psqlODBC's `real` (pyodbc and arrow-odbc both widen it to the same double)
    for name in ("id", "n", "n53", "r", "b", "d", "ts", "tm", "s", "t", "big", "z"):
        assert by_name[name] == alchemy_columns[list(by_name).index(name)], name


@pytest.mark.postgres
@pytest.mark.integration
@pytest.mark.parametrize("through", ["odbc", "sqlalchemy"])
def test_rows_stream_into_parquet_batch_by_batch(databases, postgres, tmp_path, through):
    """Each fetched batch is written as it comes (one row group per batch), so a table larger
    than memory is extracted in memory bounded by the batch (benchmarks/extract_memory.py)."""

    source = SOURCES["klage"]
    database = "columnar_src_klage"
    location = (odbc.PREFIX + odbc.connection_string("PostgreSQL Unicode", postgres.url.host, postgres.url.port,
                                                     database, postgres.url.username, Fetch="100")
                if through == "odbc" else postgres.url.set(database=database).render_as_string(hide_password=False))
    landed = extract_database_table(source, source.tables[0], location, tmp_path, DAY, batch_rows=100)
    metadata = pq.ParquetFile(landed.path).metadata
    assert landed.rows > 200 and metadata.num_rows == landed.rows
    assert metadata.num_row_groups == math.ceil(landed.rows / 100)


@pytest.mark.postgres
@pytest.mark.integration
def test_a_value_longer_than_the_columnar_buffer_is_read_row_wise_not_truncated(databases, postgres, tmp_path,
                                                                                  monkeypatch):
    long_text = "æ" * (extract.ODBC_MAX_TEXT_BYTES + 100)  # a 10 MB value would do the same
    engine = sa.create_engine(databases["klage"])
    with engine.begin() as conn:  # free text as a real system holds it (unbounded), with one long value
        conn.execute(sa.text("ALTER TABLE klage ALTER COLUMN aarsag TYPE text"))
        conn.execute(sa.text('UPDATE klage SET aarsag = :t WHERE klage_id = (SELECT min(klage_id) FROM klage)'),
                     {"t": long_text})
    engine.dispose()
    table = SOURCES["klage"].tables[0]
    landed, rows = land(monkeypatch, tmp_path, "arrow", postgres, databases, "klage", table)
    _, row_wise = land(monkeypatch, tmp_path, "rows", postgres, databases, "klage", table)
    assert long_text in rows.column("aarsag").to_pylist() and rows.equals(row_wise)


# --- without a server -------------------------------------------------------------------

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


def test_missing_contract_column_fails_loudly_naming_it(tmp_path):
    db = sqlite3.connect(tmp_path / "boern.db")
    db.execute('CREATE TABLE "Barn" ("BarnId" INTEGER, "CPR" TEXT, "Koen" TEXT, "OpdateretTid" DATETIME)')
    db.commit()
    with pytest.raises(ExtractError, match="Foedselsdato"):
        extract_table(BARN_SOURCE, BARN, f"sqlite:///{tmp_path}/boern.db", tmp_path / "landing", DAY)
